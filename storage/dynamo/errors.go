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
