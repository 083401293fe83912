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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

// transient reports whether err, as the SDK returns it after its retries
// for a call whose context is still live, is a failure to reach or be
// served by DynamoDB rather than an answer: throttling, a server error, a
// lost or refused connection, a response that does not parse, or a
// timeout (a dial or HTTP client timeout too, which matches
// context.DeadlineExceeded but is not the caller's).
func transient(err error) bool {
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
	var de *smithy.DeserializationError
	return errors.As(err, &me) || errors.As(err, &ne) || errors.As(err, &de) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded)
}

// callErr wraps the error of a call under ctx that got no answer from
// DynamoDB, mayHaveLanded telling whether the call was a write an attempt
// of which may have landed: transient failures match
// storage.ErrUnavailable, and also storage.ErrAmbiguous when mayHaveLanded;
// any other failure of such a write (a non-retryable error on a retry
// after a lost response) matches storage.ErrAmbiguous alone, with the
// native error.
//
// Whether the call ended by the caller's own limit is told by ctx, never
// by the error's type (the HTTP client's timeout and a dial timeout match
// context.DeadlineExceeded too). When ctx has ended, a write that may have
// landed matches storage.ErrAmbiguous and the context's error (not
// ErrUnavailable: the caller's own limit); any other call the context's
// error alone.
//
// A missing table (ResourceNotFoundException: tables never created, or
// another prefix) matches storage.ErrSchema, says to run Migrate and
// keeps the native error; DynamoDB answered, so nothing was written.
func callErr(ctx context.Context, what string, mayHaveLanded bool, err error) error {
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		return fmt.Errorf("dynamo: %s: table missing: run Migrate (CreateTables): %w: %w", what, storage.ErrSchema, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		if mayHaveLanded {
			return fmt.Errorf("dynamo: %s: %w: %w", what, storage.ErrAmbiguous, err)
		}
		return fmt.Errorf("dynamo: %s: %w", what, err)
	}
	switch {
	case !transient(err) && mayHaveLanded:
		return fmt.Errorf("dynamo: %s: an attempt may have landed: %w: %w", what, storage.ErrAmbiguous, err)
	case !transient(err):
		return fmt.Errorf("dynamo: %s: %w", what, err)
	case mayHaveLanded:
		return fmt.Errorf("dynamo: %s: %w: %w: %w", what, storage.ErrAmbiguous, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("dynamo: %s: %w: %w", what, storage.ErrUnavailable, err)
}

// errNotSent marks a request that was not sent because its context had
// ended before it.
var errNotSent = errors.New("not sent")

// notSent returns, when ctx has already ended, the error of a request not
// sent for that reason (errNotSent and the context's error), and nil
// otherwise.
func notSent(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", errNotSent, err)
	}
	return nil
}

// attempts watches the attempts the SDK makes for one call (its retries
// included) for one that failed but may have landed: not one DynamoDB
// answered with a client error (a failed condition, throttling: it wrote
// nothing), not unsent (see notApplied). A condition failure after such an attempt may answer a retry of
// this call's own landed write; a failure with no such attempt wrote
// nothing.
type attempts struct {
	mayHaveLanded atomic.Bool
}

// option returns the per-call option through which a watches the call.
func (a *attempts) option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("statefoldWatchAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleFinalize(ctx, in)
					if err != nil && !notApplied(err) {
						a.mayHaveLanded.Store(true)
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

// notRun reports whether a request that failed with err surely did not
// run: DynamoDB throttled it, no connection could be opened to send it, or
// its context had ended before it was sent.
func notRun(err error) bool {
	var oe *net.OpError
	return throttled(err) || (errors.As(err, &oe) && oe.Op == "dial") || errors.Is(err, errNotSent)
}

// notApplied reports whether a request that failed with err surely did
// not apply: it was not run (see notRun), or DynamoDB answered it with a
// client error (4xx: a failed condition, throttling, validation, access
// denied), which writes nothing. A server error (5xx), a lost or damaged
// response, a timeout may follow a write that landed.
func notApplied(err error) bool {
	var re *awshttp.ResponseError
	return notRun(err) || isConditionFailed(err) ||
		(errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500)
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
// request again only after it surely did not run (throttled, or its
// connection could not be opened) and reports any other failure as it is.
// The caller's callErr makes a failure ambiguous unless notApplied says
// the last attempt did not apply — then none did. A request whose context
// has already ended is not sent.
func (s *driver) once(ctx context.Context, call func(opt func(*dynamodb.Options)) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = notSent(ctx); err != nil {
			return err
		}
		if err = call(noSDKRetry); err == nil || !notRun(err) || attempt >= onceAttempts {
			return err
		}
		if werr := sleep(ctx, s.backoff(attempt)); werr != nil {
			return err
		}
	}
}
