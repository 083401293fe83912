package dynamo

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/statefold/statefold/storage"
)

// rowKind is what the driver knows of one kind of versioned row (a
// batch, an apply, an operation): its table, its key and its item. The
// driver creates, reads, updates and deletes the three kinds alike
// through it.
type rowKind[R, I any] struct {
	name        string                  // in messages: "batch", "apply", "operation"
	table       func(TableNames) string // the table of the kind
	keyAttrs    []string                // the key's attributes, the partition key first
	ids         func(R) []string        // the key's values of a row, in keyAttrs' order
	item        func(R) I               // the item that stores a row
	row         func(I) R               // the row an item stores
	withVersion func(R, int64) R        // the row at another version
}

var (
	batchRows = rowKind[storage.Batch, batchItem]{
		name: "batch", table: func(n TableNames) string { return n.Batches }, keyAttrs: []string{attrQueue, attrID},
		ids:  func(b storage.Batch) []string { return []string{b.Queue, b.ID} },
		item: toBatchItem, row: batchItem.batch,
		withVersion: func(b storage.Batch, v int64) storage.Batch { b.Version = v; return b },
	}
	applyRows = rowKind[storage.Apply, applyItem]{
		name: "apply", table: func(n TableNames) string { return n.Applies }, keyAttrs: []string{attrID},
		ids:  func(a storage.Apply) []string { return []string{a.ID} },
		item: toApplyItem, row: applyItem.apply,
		withVersion: func(a storage.Apply, v int64) storage.Apply { a.Version = v; return a },
	}
	operationRows = rowKind[storage.Operation, operationItem]{
		name: "operation", table: func(n TableNames) string { return n.Operations }, keyAttrs: []string{attrApplyID, attrID},
		ids:  func(op storage.Operation) []string { return []string{op.ApplyID, op.ID} },
		item: toOperationItem, row: operationItem.operation,
		withVersion: func(op storage.Operation, v int64) storage.Operation { op.Version = v; return op },
	}
)

// what names the call verb on the row of key ids in messages, as in
// `create batch "q"/"b1"`.
func (k rowKind[R, I]) what(verb string, ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = strconv.Quote(id)
	}
	return verb + " " + k.name + " " + strings.Join(quoted, "/")
}

// key is the key of the row of key ids.
func (k rowKind[R, I]) key(ids []string) map[string]types.AttributeValue {
	pairs := make([]string, 0, 2*len(ids))
	for i, id := range ids {
		pairs = append(pairs, k.keyAttrs[i], id)
	}
	return keyOf(pairs...)
}

// putRow writes r at version expected+1 with [driver.put] — a create when
// expected is 0, a compare-and-swap otherwise — and returns it as written.
func putRow[R, I any](ctx context.Context, s *driver, k rowKind[R, I], verb string, r R, expected int64, expectedState *string) (R, error) {
	r = k.withVersion(r, expected+1)
	ids := k.ids(r)
	if err := s.put(ctx, k.what(verb, ids), k.table(s.cfg.names), k.keyAttrs[0], k.item(r), k.key(ids), expected, expectedState); err != nil {
		var zero R
		return zero, err
	}
	return r, nil
}

// getRow reads the row of key ids with [driver.get].
func getRow[R, I any](ctx context.Context, s *driver, k rowKind[R, I], ids ...string) (R, error) {
	var it I
	if err := s.get(ctx, k.what("get", ids), k.table(s.cfg.names), k.key(ids), &it); err != nil {
		var zero R
		return zero, err
	}
	return k.row(it), nil
}

// deleteRow deletes the row of key ids at version expected with
// [driver.del].
func deleteRow[R, I any](ctx context.Context, s *driver, k rowKind[R, I], expected int64, ids ...string) error {
	return s.del(ctx, k.what("delete", ids), k.table(s.cfg.names), k.key(ids), expected)
}

// collect returns a func that unmarshals an item into an I and appends
// the row conv makes of it to *out.
func collect[I, R any](out *[]R, conv func(I) R) func(map[string]types.AttributeValue) error {
	return func(item map[string]types.AttributeValue) error {
		var it I
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		*out = append(*out, conv(it))
		return nil
	}
}
