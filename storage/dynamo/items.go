package dynamo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/statefold/statefold/storage"
)

// Attribute names of the key attributes.
const (
	attrQueue   = "queue"
	attrID      = "id"
	attrSort    = "sk"
	attrApplyID = "apply_id"
	attrVersion = "version"
	// attrState is not a key attribute: the batch compare-and-swap
	// conditions on it (and reads it back to describe a conflict).
	attrState = "state"
)

// micros stores a time as Unix microseconds; the zero time is omitted.
func micros(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMicro()
	return &v
}

func fromMicros(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.UnixMicro(*v).UTC()
}

// memberKey encodes (state, batch id) as the members sort key: the state's
// byte length in three decimal digits, the state, then the id. The length
// prefix makes the encoding unambiguous whatever bytes the state holds, and
// a Query with begins_with(sk, statePrefix(s)) matches exactly the rows of
// state s: another state can only share the prefix if it has the same
// length and starts with s, that is, if it is s.
func memberKey(state, batchID string) string { return statePrefix(state) + batchID }

func statePrefix(state string) string { return fmt.Sprintf("%03d", len(state)) + state }

// splitMemberKey decodes a members sort key.
func splitMemberKey(sk string) (state, batchID string, err error) {
	if len(sk) < 3 || strings.Trim(sk[:3], "0123456789") != "" {
		return "", "", fmt.Errorf("dynamo: malformed member sort key %q", sk)
	}
	n, _ := strconv.Atoi(sk[:3])
	if n > len(sk)-3 {
		return "", "", fmt.Errorf("dynamo: malformed member sort key %q", sk)
	}
	return sk[3 : 3+n], sk[3+n:], nil
}

type batchItem struct {
	Queue     string `dynamodbav:"queue"`
	ID        string `dynamodbav:"id"`
	State     string `dynamodbav:"state"`
	Version   int64  `dynamodbav:"version"`
	Payload   []byte `dynamodbav:"payload,omitempty"`
	CreatedAt *int64 `dynamodbav:"created_at,omitempty"`
	UpdatedAt *int64 `dynamodbav:"updated_at,omitempty"`
}

func toBatchItem(b storage.Batch) batchItem {
	return batchItem{Queue: b.Queue, ID: b.ID, State: b.State, Version: b.Version, Payload: b.Payload,
		CreatedAt: micros(b.CreatedAt), UpdatedAt: micros(b.UpdatedAt)}
}

func (i batchItem) batch() storage.Batch {
	return storage.Batch{Queue: i.Queue, ID: i.ID, State: i.State, Version: i.Version, Payload: storage.ClonePayload(i.Payload),
		CreatedAt: fromMicros(i.CreatedAt), UpdatedAt: fromMicros(i.UpdatedAt)}
}

type memberItem struct {
	Queue   string `dynamodbav:"queue"`
	SK      string `dynamodbav:"sk"`
	State   string `dynamodbav:"state"`
	BatchID string `dynamodbav:"batch_id"`
	Version int64  `dynamodbav:"version"`
	AddedAt *int64 `dynamodbav:"added_at,omitempty"`
}

func toMemberItem(m storage.Member) memberItem {
	return memberItem{Queue: m.Queue, SK: memberKey(m.State, m.BatchID), State: m.State, BatchID: m.BatchID,
		Version: m.Version, AddedAt: micros(m.AddedAt)}
}

func (i memberItem) member() storage.Member {
	return storage.Member{Queue: i.Queue, State: i.State, BatchID: i.BatchID, Version: i.Version, AddedAt: fromMicros(i.AddedAt)}
}

type applyItem struct {
	ID            string `dynamodbav:"id"`
	State         string `dynamodbav:"state"`
	ErrorMessage  string `dynamodbav:"error_message,omitempty"`
	StopRequested bool   `dynamodbav:"stop_requested"`
	PauseReleased bool   `dynamodbav:"pause_released"`
	StartedAt     *int64 `dynamodbav:"started_at,omitempty"`
	CompletedAt   *int64 `dynamodbav:"completed_at,omitempty"`
	Payload       []byte `dynamodbav:"payload,omitempty"`
	Version       int64  `dynamodbav:"version"`
	CreatedAt     *int64 `dynamodbav:"created_at,omitempty"`
	UpdatedAt     *int64 `dynamodbav:"updated_at,omitempty"`
}

func toApplyItem(a storage.Apply) applyItem {
	return applyItem{ID: a.ID, State: a.State, ErrorMessage: a.ErrorMessage, StopRequested: a.StopRequested,
		PauseReleased: a.PauseReleased, StartedAt: micros(a.StartedAt), CompletedAt: micros(a.CompletedAt),
		Payload: a.Payload, Version: a.Version, CreatedAt: micros(a.CreatedAt), UpdatedAt: micros(a.UpdatedAt)}
}

func (i applyItem) apply() storage.Apply {
	return storage.Apply{ID: i.ID, State: i.State, ErrorMessage: i.ErrorMessage, StopRequested: i.StopRequested,
		PauseReleased: i.PauseReleased, StartedAt: fromMicros(i.StartedAt), CompletedAt: fromMicros(i.CompletedAt),
		Payload: storage.ClonePayload(i.Payload), Version: i.Version, CreatedAt: fromMicros(i.CreatedAt), UpdatedAt: fromMicros(i.UpdatedAt)}
}

type operationItem struct {
	ApplyID      string `dynamodbav:"apply_id"`
	ID           string `dynamodbav:"id"`
	Seq          int64  `dynamodbav:"seq"`
	Deployment   string `dynamodbav:"deployment,omitempty"`
	Group        string `dynamodbav:"op_group,omitempty"`
	Finalizer    bool   `dynamodbav:"finalizer"`
	State        string `dynamodbav:"state"`
	OnFailure    string `dynamodbav:"on_failure,omitempty"`
	ErrorMessage string `dynamodbav:"error_message,omitempty"`
	StartedAt    *int64 `dynamodbav:"started_at,omitempty"`
	CompletedAt  *int64 `dynamodbav:"completed_at,omitempty"`
	Projected    bool   `dynamodbav:"projected,omitempty"`
	Payload      []byte `dynamodbav:"payload,omitempty"`
	Version      int64  `dynamodbav:"version"`
	CreatedAt    *int64 `dynamodbav:"created_at,omitempty"`
	UpdatedAt    *int64 `dynamodbav:"updated_at,omitempty"`
	// Added after the first release: absent on items written before, and
	// omitted when zero, so such an item reads with them zero.
	Owner      string `dynamodbav:"owner,omitempty"`
	OwnerToken int64  `dynamodbav:"owner_token,omitempty"`
	OwnerUntil *int64 `dynamodbav:"owner_until,omitempty"`
	ReleasedAt *int64 `dynamodbav:"released_at,omitempty"`
	// ProjectedVersion: added after owner and released_at, likewise.
	ProjectedVersion int64 `dynamodbav:"projected_version,omitempty"`
}

func toOperationItem(o storage.Operation) operationItem {
	return operationItem{ApplyID: o.ApplyID, ID: o.ID, Seq: o.Seq, Deployment: o.Deployment, Group: o.Group,
		Finalizer: o.Finalizer, State: o.State, OnFailure: o.OnFailure, ErrorMessage: o.ErrorMessage,
		StartedAt: micros(o.StartedAt), CompletedAt: micros(o.CompletedAt), Projected: o.Projected, Payload: o.Payload, Version: o.Version,
		CreatedAt: micros(o.CreatedAt), UpdatedAt: micros(o.UpdatedAt),
		Owner: o.Owner, OwnerToken: o.OwnerToken, OwnerUntil: micros(o.OwnerUntil), ReleasedAt: micros(o.ReleasedAt),
		ProjectedVersion: o.ProjectedVersion}
}

func (i operationItem) operation() storage.Operation {
	return storage.Operation{ApplyID: i.ApplyID, ID: i.ID, Seq: i.Seq, Deployment: i.Deployment, Group: i.Group,
		Finalizer: i.Finalizer, State: i.State, OnFailure: i.OnFailure, ErrorMessage: i.ErrorMessage,
		StartedAt: fromMicros(i.StartedAt), CompletedAt: fromMicros(i.CompletedAt), Projected: i.Projected, Payload: storage.ClonePayload(i.Payload),
		Version: i.Version, CreatedAt: fromMicros(i.CreatedAt), UpdatedAt: fromMicros(i.UpdatedAt),
		Owner: i.Owner, OwnerToken: i.OwnerToken, OwnerUntil: fromMicros(i.OwnerUntil), ReleasedAt: fromMicros(i.ReleasedAt),
		ProjectedVersion: i.ProjectedVersion}
}
