package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/calsync/calsync"
)

// MapStore is the host application's own calsync.Store: plain maps behind
// one lock. A real host would put its database here; the shape is the same.
//
// Apply shows the one technique every Store needs, atomicity: it works on
// a copy of the calendar's events and publishes the copy, with the new
// sync state, only when every change has been applied. A change it cannot
// apply (or a cancelled context) discards the copy, so neither the events
// nor the cursor change. (Copying costs O(events) per batch; a database
// gets the same guarantee from a transaction.)
//
// Of the optional capabilities it implements two, to show the shape: a
// Store declares a capability by having its methods, and the Engine finds
// it with a type assertion. calsync.Leases makes instances take turns;
// calsync.ChangeFeed (feed.go) makes OnChange at-least-once: Apply
// publishes the feed entries with the events, under the same lock.
type MapStore struct {
	mu     sync.RWMutex
	cals   map[string]*mapCalendar
	subs   map[string]calsync.Subscription
	leases map[string]mapLease
	feed   mapFeed
}

var (
	_ calsync.Store      = (*MapStore)(nil)
	_ calsync.Leases     = (*MapStore)(nil)
	_ calsync.ChangeFeed = (*MapStore)(nil)
)

type mapLease struct {
	owner   string
	expires time.Time
}

type mapCalendar struct {
	cal    calsync.Calendar
	state  calsync.SyncState
	events map[string]storedEvent
}

type storedEvent struct {
	ev  calsync.Event
	gen int64 // the full-sync generation that last saw the event
}

// NewMapStore returns an empty MapStore.
func NewMapStore() *MapStore {
	return &MapStore{cals: map[string]*mapCalendar{}, subs: map[string]calsync.Subscription{}, leases: map[string]mapLease{}}
}

func missing(what, id string) error {
	return fmt.Errorf("mapstore: %s %q: %w", what, id, calsync.ErrNotFound)
}

func (s *MapStore) PutCalendar(ctx context.Context, cal calsync.Calendar) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if cal.ID == "" {
		return errors.New("mapstore: empty calendar id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cals[cal.ID]; ok {
		c.cal = cal
	} else {
		s.cals[cal.ID] = &mapCalendar{cal: cal, events: map[string]storedEvent{}}
	}
	return nil
}

func (s *MapStore) Calendar(ctx context.Context, id string) (calsync.Calendar, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Calendar{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c, ok := s.cals[id]; ok {
		return c.cal, nil
	}
	return calsync.Calendar{}, missing("calendar", id)
}

func (s *MapStore) ListCalendars(ctx context.Context) ([]calsync.Calendar, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []calsync.Calendar
	for _, id := range slices.Sorted(maps.Keys(s.cals)) {
		out = append(out, s.cals[id].cal)
	}
	return out, nil
}

func (s *MapStore) DeleteCalendar(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cals[id]; !ok {
		return missing("calendar", id)
	}
	delete(s.cals, id)
	maps.DeleteFunc(s.subs, func(_ string, sub calsync.Subscription) bool { return sub.CalendarID == id })
	return nil
}

func (s *MapStore) SyncState(ctx context.Context, calendarID string) (calsync.SyncState, error) {
	if err := ctx.Err(); err != nil {
		return calsync.SyncState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c, ok := s.cals[calendarID]; ok {
		return c.state, nil
	}
	return calsync.SyncState{}, missing("calendar", calendarID)
}

func (s *MapStore) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	if b == nil {
		return nil, errors.New("mapstore: nil batch")
	}
	if b.Sweep && b.Generation == 0 {
		return nil, errors.New("mapstore: Sweep without a Generation")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return nil, missing("calendar", calendarID)
	}
	// Optimistic concurrency: compare the expected sync state under the
	// same lock as the writes (a database: in the same transaction, with
	// the calendar's row locked). Without it, two instances of the host
	// app syncing one calendar would overwrite each other's cursors.
	if e := b.Expect; e != nil && (e.Cursor != c.state.Cursor || e.PageToken != c.state.PageToken || e.Generation != c.state.Generation) {
		return nil, fmt.Errorf("mapstore: calendar %q: %w", calendarID, calsync.ErrConflict)
	}
	events := maps.Clone(c.events) // the working copy
	res := &calsync.ApplyResult{}
	for i, ch := range b.Changes {
		if err := ctx.Err(); err != nil {
			return nil, err // the working copy is dropped: nothing changed
		}
		if ch.EventID == "" || (ch.Event != nil && ch.Event.ID != "" && ch.Event.ID != ch.EventID) {
			return nil, fmt.Errorf("mapstore: change %d: bad event id %q", i, ch.EventID)
		}
		cur, exists := events[ch.EventID]
		stamp := func() {
			if b.Generation != 0 {
				cur.gen = b.Generation
				events[ch.EventID] = cur
			}
		}
		switch ch.Op {
		case calsync.Upsert:
			if ch.Event == nil || ch.Event.ID != ch.EventID {
				return nil, fmt.Errorf("mapstore: change %d: upsert of %q without its event", i, ch.EventID)
			}
			if exists {
				stamp()
				if ch.Event.Updated.Before(cur.ev.Updated) {
					res.Stale++ // last write wins: the stored event is newer
					continue
				}
				if ch.Event.Updated.Equal(cur.ev.Updated) && ch.Event.ETag == cur.ev.ETag {
					continue // the same version again
				}
			}
			ev := ch.Event.Clone()
			ev.CalendarID, ev.Version = calendarID, 1
			gen := b.Generation
			if exists {
				ev.Version = cur.ev.Version + 1
				gen = cur.gen
			}
			events[ch.EventID] = storedEvent{ev: ev, gen: gen}
			out := ev.Clone()
			res.Applied = append(res.Applied, calsync.Change{Op: calsync.Upsert, EventID: ch.EventID, Event: &out})
		case calsync.Delete:
			if exists && ch.Event != nil && !ch.Event.Updated.IsZero() && ch.Event.Updated.Before(cur.ev.Updated) {
				stamp()
				res.Stale++
				continue
			}
			delete(events, ch.EventID)
			out := calsync.Change{Op: calsync.Delete, EventID: ch.EventID}
			if ch.Event != nil {
				e := ch.Event.Clone()
				out.Event = &e
			}
			res.Applied = append(res.Applied, out)
		default:
			return nil, fmt.Errorf("mapstore: change %d: unknown operation %v", i, ch.Op)
		}
	}
	// The exceptions of a series the batch deleted go with it.
	deleted := make(map[string]bool)
	for _, c := range res.Applied {
		deleted[c.EventID] = c.Op == calsync.Delete
	}
	var gone []string
	for id, e := range events {
		if s := e.ev.RecurringEventID; s != "" && deleted[s] {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		delete(events, id)
		res.Applied = append(res.Applied, calsync.Change{Op: calsync.Delete, EventID: id, Event: &calsync.Event{ID: id, CalendarID: calendarID}})
	}
	if b.Sweep {
		for _, id := range slices.Sorted(maps.Keys(events)) {
			if events[id].gen != b.Generation {
				delete(events, id)
				res.Applied = append(res.Applied, calsync.Change{Op: calsync.Delete, EventID: id, Event: &calsync.Event{ID: id, CalendarID: calendarID}})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Publish: events, cursor and feed entries together.
	c.events, c.state = events, b.State
	res.Seq = s.feed.append(calendarID, res.Applied)
	return res, nil
}

func (s *MapStore) Event(ctx context.Context, calendarID, eventID string) (calsync.Event, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Event{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return calsync.Event{}, missing("calendar", calendarID)
	}
	e, ok := c.events[eventID]
	if !ok {
		return calsync.Event{}, missing("event", eventID)
	}
	return e.ev.Clone(), nil
}

func (s *MapStore) ListEvents(ctx context.Context, calendarID, afterID string, limit int) ([]calsync.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("mapstore: limit %d", limit)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return nil, missing("calendar", calendarID)
	}
	var out []calsync.Event
	for _, id := range slices.Sorted(maps.Keys(c.events)) { // Go strings sort in byte order
		if id > afterID && len(out) < limit {
			out = append(out, c.events[id].ev.Clone())
		}
	}
	return out, nil
}

// PutSubscription keeps the subscription's SecretHash, never its plaintext
// Secret (storetest checks it): whoever can read a Store must not be able
// to forge notifications.
func (s *MapStore) PutSubscription(ctx context.Context, sub calsync.Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if sub.ID == "" {
		return errors.New("mapstore: empty subscription id")
	}
	sub.Secret = ""
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub.ID] = sub
	return nil
}

func (s *MapStore) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Subscription{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sub, ok := s.subs[id]; ok {
		return sub, nil
	}
	return calsync.Subscription{}, missing("subscription", id)
}

func (s *MapStore) filterSubs(keep func(calsync.Subscription) bool, cmp func(a, b calsync.Subscription) int) []calsync.Subscription {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []calsync.Subscription
	for _, sub := range s.subs {
		if keep(sub) {
			out = append(out, sub)
		}
	}
	slices.SortFunc(out, cmp)
	return out
}

func byID(a, b calsync.Subscription) int { return strings.Compare(a.ID, b.ID) }

func (s *MapStore) ListSubscriptions(ctx context.Context, calendarID string) ([]calsync.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.filterSubs(func(sub calsync.Subscription) bool { return sub.CalendarID == calendarID }, byID), nil
}

func (s *MapStore) ExpiringSubscriptions(ctx context.Context, before time.Time) ([]calsync.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.filterSubs(func(sub calsync.Subscription) bool { return sub.Expiration.Before(before) },
		func(a, b calsync.Subscription) int {
			if c := a.Expiration.Compare(b.Expiration); c != 0 {
				return c
			}
			return byID(a, b)
		}), nil
}

func (s *MapStore) DeleteSubscription(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[id]; !ok {
		return missing("subscription", id)
	}
	delete(s.subs, id)
	return nil
}

// AcquireLease implements calsync.Leases: the lock makes the check and the
// write one step, so exactly one of concurrent owners takes a free lease.
func (s *MapStore) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if name == "" || owner == "" {
		return false, errors.New("mapstore: empty lease name or owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner != owner && l.expires.After(now) {
		return false, nil
	}
	s.leases[name] = mapLease{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease implements calsync.Leases.
func (s *MapStore) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner == owner {
		delete(s.leases, name)
	}
	return nil
}
