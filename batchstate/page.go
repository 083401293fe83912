package batchstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/statefold/statefold/storage"
)

// Page is one page of [Orchestrator.ListPage].
type Page struct {
	// Batches are the page's batches, ordered by ID (byte for byte).
	Batches []storage.Batch
	// Next is the cursor of the next page, "" after the last one.
	Next string
}

// ListPage returns one page of the batches of queue whose stored state is
// one of states: of the ids greater than after ("" for the first page)
// that the states' index rows name, the limit smallest (limit >= 1), and
// of those the batches stored in one of states, ordered by ID. Pass
// Page.Next as after for the next page. A page reads at most limit rows
// per state, whatever the size of the queue, so its memory is bounded by
// the page.
//
// Within a page the guarantees of [Orchestrator.List] hold: a batch
// stored in a requested state at every instant of the call, whose id lies
// in the page's range (after, Next] (after the last page: every id
// greater than after), is returned; every batch returned was stored in a
// requested state, as returned, at some instant of the call. So a batch
// stored in a requested state throughout a walk of the pages is returned
// by exactly one page. The lease is checked as List checks it, with the
// same retries and the same storage.ErrConflict. A page may hold fewer
// than limit batches, even none, and still have a Next: rows of batches
// that moved on take their room until a Reconcile removes them.
//
// Through a store that offers [storage.Snapshotter] a page is one
// ListSnapshot; otherwise one GetBatch, one ListMembersPage per state
// (through [storage.MemberPager], or a whole ListMembers where the store
// lacks it) and one GetBatches.
func (o *Orchestrator) ListPage(ctx context.Context, queue, after string, limit int, states ...string) (page Page, err error) {
	ctx, call := o.start(ctx, "ListPage", queue, "")
	defer func() { endList(call, page.Batches, err) }()
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	if states, err = checkPage(o.m, queue, after, limit, states); err != nil {
		return Page{}, err
	}
	read, err := o.readIndex(ctx, queue, func() (listRead, listResult, error) {
		return o.pageAttempt(ctx, queue, after, limit, states)
	})
	if err != nil {
		return Page{}, err
	}
	slices.SortFunc(read.out, func(a, b storage.Batch) int { return cmp.Compare(a.ID, b.ID) })
	return Page{Batches: read.out, Next: read.next}, nil
}

// checkPage validates the input of ListPage and returns the states
// deduplicated.
func checkPage(m Machine, queue, after string, limit int, states []string) ([]string, error) {
	if after != "" {
		if err := storage.ValidateKey("after", after); err != nil {
			return nil, err
		}
	}
	if limit < 1 {
		return nil, storage.Invalid("limit", "a page of %d batches", limit)
	}
	return checkList(m, queue, states)
}

// pageAttempt is one attempt of ListPage.
func (o *Orchestrator) pageAttempt(ctx context.Context, queue, after string, limit int, states []string) (listRead, listResult, error) {
	if o.snap != nil {
		read, res, err := o.pageSnapshot(ctx, queue, after, limit, states)
		if !errors.Is(err, errors.ErrUnsupported) {
			return read, res, err
		}
	}
	return o.listOnce(ctx, queue, states, func() ([][]storage.Member, string, error) {
		return o.pageRows(ctx, queue, after, limit, states)
	})
}

// pageSnapshot is one attempt of ListPage through the store's one-snapshot
// read (see listSnapshot): every row of the page's ids, so that the page's
// end is known.
func (o *Orchestrator) pageSnapshot(ctx context.Context, queue, after string, limit int, states []string) (listRead, listResult, error) {
	snap, err := o.snap.ListSnapshot(ctx, storage.SnapshotRequest{
		Queue: queue, States: states, Also: []string{LeaseID}, After: after, Limit: limit,
	})
	if err != nil {
		return listRead{}, 0, fmt.Errorf("batchstate: list page of %q: %w", queue, err)
	}
	lease, ok := findBatch(snap.Also, queue, LeaseID)
	if viewLease(lease, ok, o.now(), o.cfg.lease).held {
		return listRead{}, listHeld, nil
	}
	ids := make([]string, 0, len(snap.Batches)+len(snap.Others))
	for _, b := range snap.Batches {
		ids = append(ids, b.ID)
	}
	for _, r := range snap.Others {
		ids = append(ids, r.Member.BatchID)
	}
	_, next := pageEnd(ids, limit)
	return listRead{out: snapshotListed(snap, queue, states), final: snapshotFinal(o.m, snap), next: next}, listDone, nil
}

// pageRows reads, for each state, the rows of the page after after of
// limit ids: at most limit rows of each bucket, then only those of the
// limit smallest ids among them. It returns the page's cursor too.
func (o *Orchestrator) pageRows(ctx context.Context, queue, after string, limit int, states []string) ([][]storage.Member, string, error) {
	rows := make([][]storage.Member, len(states))
	var ids []string
	for i, s := range states {
		rs, err := o.bucketPage(ctx, queue, s, after, limit)
		if err != nil {
			return nil, "", fmt.Errorf("batchstate: list members %q: %w", s, err)
		}
		rows[i] = rs
		for _, r := range rs {
			ids = append(ids, r.BatchID)
		}
	}
	last, next := pageEnd(ids, limit)
	for i, rs := range rows {
		rows[i] = slices.DeleteFunc(rs, func(r storage.Member) bool { return r.BatchID > last })
	}
	return rows, next, nil
}

// pageEnd returns the largest of the limit smallest distinct ids (every
// id of the page is at most it), and the next page's cursor: that id when
// there are limit of them (a later id may follow), "" otherwise.
func pageEnd(ids []string, limit int) (last, next string) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) < limit {
		if len(ids) == 0 {
			return "", ""
		}
		return ids[len(ids)-1], ""
	}
	return ids[limit-1], ids[limit-1]
}

// bucketPage reads the first limit rows after after of the bucket (queue,
// state), by id: one ListMembersPage where the store offers it, else the
// whole bucket, cut.
func (o *Orchestrator) bucketPage(ctx context.Context, queue, state, after string, limit int) ([]storage.Member, error) {
	if o.pager != nil {
		rs, err := o.pager.ListMembersPage(ctx, queue, state, after, limit)
		if !errors.Is(err, errors.ErrUnsupported) {
			return rs, err
		}
	}
	rs, err := o.members.ListMembers(ctx, queue, state)
	if err != nil {
		return nil, err
	}
	rs = slices.DeleteFunc(rs, func(r storage.Member) bool { return r.BatchID <= after })
	slices.SortFunc(rs, func(a, b storage.Member) int { return cmp.Compare(a.BatchID, b.BatchID) })
	return rs[:min(limit, len(rs))], nil
}
