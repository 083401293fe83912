package sqlstore

import "strings"

// Tables are the quoted (and, where the dialect has schemas, qualified)
// table names: the four of the store and the schema version's.
type Tables struct {
	// Batches, Members, Applies and Operations hold the store's rows,
	// Schema the schema version.
	Batches, Members, Applies, Operations, Schema string
}

// Queries holds every statement a [Store] runs, bound to its dialect's
// placeholders. Each is a primary-key point or prefix access.
type Queries struct {
	// InsertBatch, GetBatch, UpdateBatch and BatchVersion write, read,
	// compare-and-swap and read back the version of a batch row.
	InsertBatch, GetBatch, UpdateBatch, BatchVersion string
	// AddMember, RemoveMember and ListMembers upsert, delete and list
	// the members of a set.
	AddMember, RemoveMember, ListMembers string
	// InsertApply, GetApply, UpdateApply and ApplyVersion do for an
	// apply row what the batch statements do for a batch row.
	InsertApply, GetApply, UpdateApply, ApplyVersion string
	// InsertOperation, GetOperation, ListOperations, UpdateOperation and
	// OperationVersion do the same for operation rows, ListOperations
	// listing those of one apply.
	InsertOperation, GetOperation, ListOperations, UpdateOperation, OperationVersion string
	batchSelect                                                                      string
	dialect                                                                          Dialect
}

// GetBatches is the statement that reads n ids of one queue.
func (q Queries) GetBatches(n int) string {
	return q.dialect.Bind(q.batchSelect + " WHERE queue = ? AND id IN " + q.dialect.InIDs(n))
}

// Marks returns "?, ?, ..., ?" with n marks.
func Marks(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// columns renders a column list, each time column through the dialect.
func columns(d Dialect, cols ...string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		if strings.HasSuffix(c, "_at") || strings.HasSuffix(c, "_until") {
			c = d.TimeCol(c)
		}
		out[i] = c
	}
	return strings.Join(out, ", ")
}

var (
	batchCols = []string{"queue", "id", "state", "version", "payload", "created_at", "updated_at"}
	applyCols = []string{"id", "state", "error_message", "stop_requested", "pause_released",
		"started_at", "completed_at", "payload", "version", "created_at", "updated_at"}
	opCols = []string{"apply_id", "id", "seq", "deployment", "op_group", "finalizer", "state",
		"on_failure", "error_message", "started_at", "completed_at", "payload", "version",
		"created_at", "updated_at", "projected", "owner", "owner_token", "owner_until", "released_at",
		"projected_version"}
)

// insert is an INSERT of every column of cols, version set to 1.
func insert(table string, cols []string) string {
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = "?"
		if c == "version" {
			vals[i] = "1"
		}
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
}

// update is the compare-and-swap UPDATE of every non-key column of cols
// (those after the first nkey), version bumped, the key and version
// compared.
func update(table string, cols []string, nkey int) string {
	var set []string
	for _, c := range cols[nkey:] {
		if c != "version" {
			set = append(set, c+" = ?")
		}
	}
	where := make([]string, nkey)
	for i, c := range cols[:nkey] {
		where[i] = c + " = ?"
	}
	return "UPDATE " + table + " SET " + strings.Join(set, ", ") + ", version = version + 1 WHERE " +
		strings.Join(where, " AND ") + " AND version = ?"
}

// Build returns the statements over t in dialect d.
func Build(d Dialect, t Tables) Queries {
	batchSelect := "SELECT " + columns(d, batchCols...) + " FROM " + t.Batches
	applySelect := "SELECT " + columns(d, applyCols...) + " FROM " + t.Applies
	opSelect := "SELECT " + columns(d, opCols...) + " FROM " + t.Operations
	q := Queries{
		InsertBatch: insert(t.Batches, batchCols),
		GetBatch:    batchSelect + " WHERE queue = ? AND id = ?",
		// A batch moves only out of the state the caller read: its state
		// is both written and compared.
		UpdateBatch: "UPDATE " + t.Batches + " SET state = ?, payload = ?, created_at = ?, updated_at = ?," +
			" version = version + 1 WHERE queue = ? AND id = ? AND version = ? AND state = ?",
		BatchVersion: "SELECT version, state FROM " + t.Batches + " WHERE queue = ? AND id = ?",

		AddMember:    d.AddMemberSQL(t.Members),
		RemoveMember: "DELETE FROM " + t.Members + " WHERE queue = ? AND state = ? AND batch_id = ? AND version <= ?",
		ListMembers:  "SELECT batch_id, version, " + d.TimeCol("added_at") + " FROM " + t.Members + " WHERE queue = ? AND state = ?",

		InsertApply:  insert(t.Applies, applyCols),
		GetApply:     applySelect + " WHERE id = ?",
		UpdateApply:  update(t.Applies, applyCols, 1),
		ApplyVersion: "SELECT version FROM " + t.Applies + " WHERE id = ?",

		InsertOperation:  insert(t.Operations, opCols),
		GetOperation:     opSelect + " WHERE apply_id = ? AND id = ?",
		ListOperations:   opSelect + " WHERE apply_id = ?",
		UpdateOperation:  update(t.Operations, opCols, 2),
		OperationVersion: "SELECT version FROM " + t.Operations + " WHERE apply_id = ? AND id = ?",
		batchSelect:      batchSelect,
		dialect:          d,
	}
	for _, s := range []*string{&q.InsertBatch, &q.GetBatch, &q.UpdateBatch, &q.BatchVersion, &q.AddMember,
		&q.RemoveMember, &q.ListMembers, &q.InsertApply, &q.GetApply, &q.UpdateApply, &q.ApplyVersion,
		&q.InsertOperation, &q.GetOperation, &q.ListOperations, &q.UpdateOperation, &q.OperationVersion} {
		*s = d.Bind(*s)
	}
	return q
}
