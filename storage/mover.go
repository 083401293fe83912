package storage

import "context"

// Mover is an optional capability of a store: a batch's move and the
// index row of the state it enters, written in one round trip (one
// statement on PostgreSQL, one stored procedure's two autocommit
// statements on MySQL; never a transaction, and nothing relies on the
// two being atomic). A store
// that lacks it, or answers [errors.ErrUnsupported], is sent AddMember
// and then UpdateBatch instead, with the same outcome. [Checked] forwards
// it, checking its input first.
type Mover interface {
	// MoveBatch writes what AddMember(m) and then, if the row was
	// written, UpdateBatch(b, expectedVersion, expectedState) write, and
	// answers as they do: when a newer row is stored the answer is
	// ErrConflict and nothing is written; otherwise the row is written
	// and the batch is answered as UpdateBatch answers it (the row stays
	// written when the compare-and-swap loses, as it does after
	// AddMember). m is the row of b's new state: its queue, state and
	// batch id are b's queue, state and id. A failure is classified as a
	// compare-and-swap's (see the classification matrix).
	MoveBatch(ctx context.Context, m Member, b Batch, expectedVersion int64, expectedState string) (Batch, error)
}

// ValidateMove checks the input of a MoveBatch call.
func ValidateMove(m Member, b Batch, expectedVersion int64, expectedState string) error {
	if err := first(ValidateMember(m), ValidateBatch(b), ValidateVersion("expectedVersion", expectedVersion),
		ValidateKey("expectedState", expectedState)); err != nil {
		return err
	}
	if m.Queue != b.Queue || m.State != b.State || m.BatchID != b.ID {
		return Invalid("m", "row (%q, %q, %q) is not the row of batch %q/%q in state %q",
			m.Queue, m.State, m.BatchID, b.Queue, b.ID, b.State)
	}
	return nil
}

func (c checked) MoveBatch(ctx context.Context, m Member, b Batch, expectedVersion int64, expectedState string) (Batch, error) {
	mv, ok := c.d.(Mover)
	if !ok {
		return Batch{}, unsupported("MoveBatch")
	}
	if err := ValidateMove(m, b, expectedVersion, expectedState); err != nil {
		return Batch{}, err
	}
	return mv.MoveBatch(ctx, NormalizeMember(m), NormalizeBatch(b), expectedVersion, expectedState)
}
