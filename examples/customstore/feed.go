package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/calsync/calsync"
)

// mapFeed is MapStore's change feed, guarded by MapStore.mu: Apply
// appends under the write lock it publishes under, so entries are in
// commit order. A database would write them in Apply's transaction, with
// a key its single writer (or a counter row locked until the commit)
// hands out in commit order: a plain sequence can number an entry that
// commits after a larger one.
type mapFeed struct {
	entries   []calsync.FeedEntry
	last      int64 // never reused, even once the entries are pruned
	consumers map[string]int64
}

func (f *mapFeed) append(calendarID string, chs []calsync.Change) int64 {
	if len(chs) == 0 {
		return 0
	}
	now := time.Now()
	for _, ch := range chs {
		f.last++
		f.entries = append(f.entries, calsync.FeedEntry{Seq: f.last, CalendarID: calendarID, Change: cloneChange(ch), Committed: now})
	}
	return f.last
}

func cloneChange(ch calsync.Change) calsync.Change {
	if ch.Event != nil {
		e := ch.Event.Clone()
		ch.Event = &e
	}
	return ch
}

// ChangesSince implements calsync.ChangeFeed.
func (s *MapStore) ChangesSince(ctx context.Context, after int64, limit int) ([]calsync.FeedEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("mapstore: limit %d", limit)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(s.feed.entries, after+1, func(e calsync.FeedEntry, seq int64) int { return cmp.Compare(e.Seq, seq) })
	var out []calsync.FeedEntry
	for _, e := range s.feed.entries[i:min(len(s.feed.entries), i+limit)] {
		e.Change = cloneChange(e.Change)
		out = append(out, e)
	}
	return out, nil
}

// ConsumerPosition implements calsync.ChangeFeed: 0 for a consumer never
// heard of.
func (s *MapStore) ConsumerPosition(ctx context.Context, consumer string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.feed.consumers[consumer], nil
}

// ConsumerPositions implements calsync.ChangeFeed.
func (s *MapStore) ConsumerPositions(ctx context.Context) (map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.feed.consumers), nil
}

// AckPosition implements calsync.ChangeFeed: positions only move forward.
func (s *MapStore) AckPosition(ctx context.Context, consumer string, pos int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if consumer == "" || pos < 0 {
		return errors.New("mapstore: empty consumer or negative position")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feed.consumers == nil {
		s.feed.consumers = map[string]int64{}
	}
	if cur, ok := s.feed.consumers[consumer]; !ok || pos > cur {
		s.feed.consumers[consumer] = pos
	}
	return nil
}

// PruneFeed implements calsync.ChangeFeed; its clock is time.Now, as
// Committed's.
func (s *MapStore) PruneFeed(ctx context.Context, olderThan time.Duration, upTo int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := time.Now().Add(-olderThan)
	n := len(s.feed.entries)
	s.feed.entries = slices.DeleteFunc(s.feed.entries, func(e calsync.FeedEntry) bool {
		return (olderThan > 0 && e.Committed.Before(cutoff)) || (upTo > 0 && e.Seq <= upTo)
	})
	return n - len(s.feed.entries), nil
}
