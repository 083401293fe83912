package applystate

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/statefold/statefold/storage"
)

// ErrAmbiguous reports an apply write whose outcome the call could not
// establish: the store returned an error (or a conflict) after the write was
// sent, and reading the apply back did not tell whether it landed. The
// write may have landed, or may still land: this call may own the apply's
// terminal side effects although its Result says nothing. The error also
// wraps the store's error.
var ErrAmbiguous = errors.New("applystate: apply write outcome unknown")

// Task is one task of a deployment, as its drive loop reports it.
type Task struct {
	// OperationID is the operation the task belongs to. It may be empty
	// only without an operation model: a Projector without an
	// OperationStore, or an apply that has no operation rows. Empty on an
	// apply with operations, or an id the apply does not have, is an error
	// matching storage.ErrInvalid.
	OperationID string
	// State is the task's state; see [Parse] for what is accepted.
	State State
	// ErrorMessage says why the task failed; it is made valid UTF-8 and
	// truncated to storage.MaxMessageBytes on a rune boundary. The apply's
	// message is "deployment <Deployment> failed: <message>" for the first
	// failed operation in rollout order (its ID when Deployment is empty);
	// without an operation model it is the first failed task's message.
	ErrorMessage string
}

// Result is what a Projector call did.
type Result struct {
	// Apply is the apply as stored after the call.
	Apply storage.Apply
	// Previous is the stored state before the call.
	Previous State
	// Changed reports that this call wrote the apply.
	Changed bool
	// Terminalized reports that this call moved the apply into a terminal
	// state: exactly one caller per apply sees it, or else the call whose
	// write could not be told apart returned an error matching
	// [ErrAmbiguous].
	Terminalized bool
	// Undetermined reports that the projection was refused on incomplete
	// information; the stored state was left as is for the next poll.
	Undetermined bool
	// Next is what the calling deployment's drive loop does next: start
	// (or carry on) only on [Proceed]. Drive sets it from the operation row
	// and the apply; the other calls set it from the apply alone.
	Next Directive
}

// Projector keeps an apply's state the projection of its operations. It is
// safe for concurrent use: all coordination goes through compare-and-swap
// on the stores.
type Projector struct {
	applies storage.ApplyStore
	ops     storage.OperationStore
	cfg     config
	// stamped is the UpdatedAt of this Projector's latest apply write, in
	// Unix microseconds: every apply write gets a later one.
	stamped atomic.Int64
}

// NewProjector returns a Projector over the stores. ops may be nil: then
// Drive takes the tasks' state as the apply's, and Reproject, Stop,
// ReleasePause, CreatePlan and the ownership calls are unavailable
// (storage.ErrInvalid). A nil applies, a nil Option and an option given a
// value it cannot use (each With function says which) are errors matching
// storage.ErrInvalid that name the store or the option.
func NewProjector(applies storage.ApplyStore, ops storage.OperationStore, opts ...Option) (*Projector, error) {
	if applies == nil {
		return nil, storage.Invalid("applies", "nil ApplyStore")
	}
	cfg, err := configure(opts)
	if err != nil {
		return nil, err
	}
	applies, ops = hooked(applies, ops, &cfg)
	return &Projector{applies: applies, ops: ops, cfg: cfg}, nil
}

func (p *Projector) now() time.Time { return p.cfg.clock().UTC().Truncate(time.Microsecond) }

// truncate makes msg valid UTF-8 of at most storage.MaxMessageBytes bytes,
// cutting on a rune boundary.
func truncate(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= storage.MaxMessageBytes {
		return msg
	}
	cut := storage.MaxMessageBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// check is the input check of every call on applyID: a live context, an
// OperationStore when needOps, a valid id.
func (p *Projector) check(ctx context.Context, applyID string, needOps bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if needOps && p.ops == nil {
		return storage.Invalid("ops", "nil OperationStore")
	}
	return storage.ValidateKey("applyID", applyID)
}
