package memory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/calsync/calsync"
)

// feedLog is the change feed, guarded by Store.mu: Apply appends to it
// under the lock it applies under, so its entries are in commit order.
type feedLog struct {
	entries []calsync.FeedEntry // ascending Seq
	last    int64               // the last Seq handed out, never reused
}

// append records the changes of one Apply and returns the Seq of the last.
func (f *feedLog) append(calendarID string, chs []calsync.Change, now time.Time) int64 {
	for _, ch := range chs {
		f.last++
		f.entries = append(f.entries, calsync.FeedEntry{Seq: f.last, CalendarID: calendarID, Change: cloneChange(ch), Committed: now})
	}
	if len(chs) == 0 {
		return 0
	}
	return f.last
}

func cloneChange(ch calsync.Change) calsync.Change {
	if ch.Event != nil {
		ev := ch.Event.Clone()
		ch.Event = &ev
	}
	return ch
}

// ChangesSince implements [calsync.ChangeFeed].
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]calsync.FeedEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: ChangesSince: limit %d is not positive", limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.feed.entries
	i := sort.Search(len(es), func(i int) bool { return es[i].Seq > after })
	es = es[i:min(len(es), i+limit)]
	out := make([]calsync.FeedEntry, len(es))
	for i, e := range es {
		e.Change = cloneChange(e.Change)
		out[i] = e
	}
	return out, nil
}

// ConsumerPosition implements [calsync.ChangeFeed].
func (s *Store) ConsumerPosition(ctx context.Context, consumer string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	return x.consumers[consumer], nil
}

// ConsumerPositions implements [calsync.ChangeFeed].
func (s *Store) ConsumerPositions(ctx context.Context) (map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	out := make(map[string]int64, len(x.consumers))
	for c, p := range x.consumers {
		out[c] = p
	}
	return out, nil
}

// AckPosition implements [calsync.ChangeFeed].
func (s *Store) AckPosition(ctx context.Context, consumer string, pos int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if consumer == "" {
		return errors.New("memory: AckPosition: empty consumer")
	}
	if pos < 0 {
		return fmt.Errorf("memory: AckPosition: negative position %d", pos)
	}
	x := s.lock()
	defer x.mu.Unlock()
	if cur, ok := x.consumers[consumer]; !ok || pos > cur {
		x.consumers[consumer] = pos
	}
	return nil
}

// PruneFeed implements [calsync.ChangeFeed]; its clock is time.Now.
func (s *Store) PruneFeed(ctx context.Context, olderThan time.Duration, upTo int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := time.Now().Add(-olderThan)
	kept := s.feed.entries[:0]
	for _, e := range s.feed.entries {
		if (olderThan > 0 && e.Committed.Before(cutoff)) || (upTo > 0 && e.Seq <= upTo) {
			continue
		}
		kept = append(kept, e)
	}
	n := len(s.feed.entries) - len(kept)
	clear(s.feed.entries[len(kept):]) // let the pruned events go
	s.feed.entries = kept
	return n, nil
}
