package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/statefold/statefold/storage"
)

// transientCodes are the DynamoDB error codes of a call that may succeed
// later: throttling and server errors.
var transientCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
	"LimitExceededException":                 true,
}

// transient reports whether err, as the SDK returns it after its retries,
// is a failure to reach or be served by DynamoDB rather than an answer.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's own limit
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && transientCodes[ae.ErrorCode()] {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var me *retry.MaxAttemptsError
	var ne net.Error
	return errors.As(err, &me) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// callErr wraps the error of a call that got no answer from DynamoDB:
// transient failures match storage.ErrUnavailable, and a write's also
// storage.ErrAmbiguous (it was sent and may have landed).
func callErr(what string, write bool, err error) error {
	switch {
	case !transient(err):
		return fmt.Errorf("dynamo: %s: %w", what, err)
	case write:
		return fmt.Errorf("dynamo: %s: %w: %w: %w", what, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("dynamo: %s: %w: %w", what, storage.ErrUnavailable, err)
}

// countAttempts returns a per-call option that counts the attempts the
// SDK makes (its retries included) in n: a condition failure after more
// than one attempt may answer a retry of this call's own landed write.
func countAttempts(n *atomic.Int32) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("statefoldCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

// attrWriteToken holds the token of the write that stored an item (see
// writeToken); the packages' items ignore it.
const attrWriteToken = "wt"

// writeToken returns a token unique to one write: 96 random bits.
func writeToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// throttled reports whether err is DynamoDB refusing a request it did not
// run: throttling. Such a request is safe to send again.
func throttled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// noSDKRetry is a per-call option that turns the SDK's retries off, for
// writes that a resend could apply twice (see [Store.once]).
func noSDKRetry(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// onceAttempts is how many times [Store.once] sends a request DynamoDB
// throttled.
const onceAttempts = 3

// once sends a write that must not be applied twice — a member upsert or
// removal, which a resend after a landed attempt could apply again over a
// later write of another caller — without the SDK's retries: it sends the
// request again only after DynamoDB throttled it (it did not run), and
// reports any other failure as it is (callErr then makes it ambiguous).
func (s *Store) once(ctx context.Context, call func(opt func(*dynamodb.Options)) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = call(noSDKRetry); err == nil || !throttled(err) || attempt >= onceAttempts {
			return err
		}
		if werr := sleep(ctx, s.backoff(attempt)); werr != nil {
			return err
		}
	}
}
