package calsync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ChangeFeed is the durable change feed: an optional capability of a
// [Store] (found by type assertion, like [Ledger]) that records every
// change [Store.Apply] commits, in the same transaction, under a
// store-wide sequence number. store/memory, store/sqlite and
// store/postgres implement it.
//
// With a ChangeFeed the Engine hands committed changes to Config.OnChange
// from the feed, at least once (see Config.OnChange): a process that dies
// between a commit and the callback delivers the changes when it starts
// again. Hosts that prefer to read can do so with [Engine.ChangesSince].
//
// # Ordering
//
// Every Apply that reports changes in ApplyResult.Applied writes one entry
// per change, in the order of Applied (sweep deletions and the deletions
// of a series' exceptions included), in the transaction that applies them;
// an Apply that fails, or a crash before its commit, leaves no entry.
// ApplyResult.Seq is the Seq of the last one.
//
// Seq is strictly increasing in commit order across the whole Store, over
// all calendars and all processes sharing it: an entry committed after
// another has a larger Seq, so once ChangesSince has returned an entry,
// no entry with a smaller or equal Seq can appear later. A reader that
// keeps the Seq of the last entry it read as its position therefore never
// misses one, however many transactions commit concurrently. Seqs are
// never reused, pruning notwithstanding; they need not be consecutive.
//
// # Consumers and pruning
//
// A consumer is a named reader whose position (the Seq up to which it has
// handled the feed) the Store keeps, so that it survives restarts. Entries
// stay until PruneFeed deletes them, whether consumers have read them or
// not, and whether their calendar still exists or not; which to delete is
// the caller's policy (the Engine's is in [SweepPruneFeed]).
//
// Every method must be safe for concurrent use. Returned values belong to
// the caller.
type ChangeFeed interface {
	// ChangesSince returns up to limit entries whose Seq is greater than
	// after, in Seq order. Pass 0 to read from the oldest entry kept. A
	// limit that is not positive is an error.
	ChangesSince(ctx context.Context, after int64, limit int) ([]FeedEntry, error)
	// ConsumerPosition returns the position consumer last acknowledged; 0
	// (and no error) for a consumer that never did.
	ConsumerPosition(ctx context.Context, consumer string) (int64, error)
	// ConsumerPositions returns the position of every consumer that has
	// acknowledged one, by name.
	ConsumerPositions(ctx context.Context) (map[string]int64, error)
	// AckPosition records that consumer has handled every entry up to and
	// including Seq pos. Positions only move forward: acknowledging a
	// position at or below the stored one changes nothing, so that two
	// processes sharing a consumer cannot move it back. It creates the
	// consumer if needed. An empty consumer name or a negative pos is an
	// error.
	AckPosition(ctx context.Context, consumer string, pos int64) error
	// PruneFeed deletes the entries committed more than olderThan ago (by
	// the Store's clock, the one that sets FeedEntry.Committed; olderThan
	// ≤ 0 deletes none by age) and the entries whose Seq is at most upTo
	// (upTo ≤ 0 deletes none by position), and returns how many it
	// deleted. Consumer positions are not changed.
	PruneFeed(ctx context.Context, olderThan time.Duration, upTo int64) (int, error)
}

// FeedEntry is one change in the [ChangeFeed].
type FeedEntry struct {
	// Seq is the entry's sequence number: strictly increasing in commit
	// order across the Store (see ChangeFeed).
	Seq int64
	// CalendarID is the calendar the change was applied to.
	CalendarID string
	// Change is the change as ApplyResult.Applied reported it: an Upsert
	// carries the stored Event (Version set), a Delete whatever the batch
	// gave with it (nil if nothing), a sweep's Delete an Event with only
	// ID and CalendarID. Times and Raw come back as [Store] promises for
	// events.
	Change Change
	// Committed is when the Store wrote the entry, by the Store's clock
	// (the database server's for a shared database): close to its commit,
	// but not necessarily in Seq order.
	Committed time.Time
}

// ChangesSince returns up to limit changes committed after position (a
// FeedEntry.Seq; 0 for the oldest the Store still keeps), in commit order,
// and the position to pass next: the Seq of the last entry returned, or
// position itself when there is nothing new. It is the pull side of the
// change feed, for hosts that prefer to read changes rather than receive
// them in Config.OnChange (or both).
//
// Keep the position durably, with the data you derived from the entries.
// Entries are pruned after Config.FeedRetention, and sooner once every
// consumer (Config.FeedConsumer of any Engine, or a name you acknowledge
// with the Store's ChangeFeed.AckPosition) has acknowledged them (see
// [SweepPruneFeed]); a reader that wants its entries kept until it has
// read them acknowledges its position under a consumer name of its own.
//
// It returns an error wrapping [errors.ErrUnsupported] if the Store keeps
// no change feed.
func (e *Engine) ChangesSince(ctx context.Context, position int64, limit int) (entries []FeedEntry, next int64, err error) {
	f, ok := e.cfg.Store.(ChangeFeed)
	if !ok {
		return nil, position, errNoFeed
	}
	entries, err = f.ChangesSince(ctx, position, limit)
	if err != nil {
		return nil, position, fmt.Errorf("calsync: changes since %d: %w", position, err)
	}
	next = position
	if len(entries) > 0 {
		next = entries[len(entries)-1].Seq
	}
	return entries, next, nil
}

var errNoFeed = fmt.Errorf("calsync: the Store keeps no change feed (it does not implement calsync.ChangeFeed): %w", errors.ErrUnsupported)

// pruneFeed deletes the feed entries every consumer has acknowledged and
// those older than FeedRetention (SweepPruneFeed).
func (e *Engine) pruneFeed(ctx context.Context) (int, error) {
	f, ok := e.cfg.Store.(ChangeFeed)
	if !ok {
		return 0, nil
	}
	positions, err := f.ConsumerPositions(ctx)
	if err != nil {
		return 0, fmt.Errorf("calsync: prune feed: %w", err)
	}
	// With no consumer at all, nothing counts as acknowledged: a host that
	// only pulls with ChangesSince keeps FeedRetention of history.
	var upTo int64
	first := true
	for _, p := range positions {
		if first || p < upTo {
			upTo, first = p, false
		}
	}
	n, err := f.PruneFeed(ctx, e.cfg.FeedRetention, upTo)
	if err != nil {
		return n, fmt.Errorf("calsync: prune feed: %w", err)
	}
	return n, nil
}
