package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/plan"
	"github.com/calsync/calsync/vault"
)

var (
	_ calsync.Store       = (*Store)(nil)
	_ calsync.Ledger      = (*Store)(nil)
	_ calsync.DeadLetters = (*Store)(nil)
	_ vault.Accounts      = (*Store)(nil)
	_ calsync.Leases      = (*Store)(nil)
	_ calsync.ChangeFeed  = (*Store)(nil)
)

// Store is an in-memory [calsync.Store]. The zero value is not usable; call
// [New].
type Store struct {
	mu   sync.Mutex
	cals map[string]*calendar
	subs map[string]calsync.Subscription
	feed feedLog // feed.go, under mu: written by Apply

	// caps holds the optional capabilities (ledger.go, deadletters.go,
	// tokens.go, leases.go), under its own lock.
	caps capabilities
}

type calendar struct {
	cal    calsync.Calendar
	state  calsync.SyncState
	events map[string]*entry
	// ids holds the keys of events in byte order when sorted is true.
	ids    []string
	sorted bool
}

type entry struct {
	ev  calsync.Event
	gen int64 // the full-sync generation that last saw the event
}

// capabilities is the state of the optional capabilities: [calsync.Ledger],
// [calsync.DeadLetters], [vault.Accounts], [calsync.Leases] and the
// consumers of [calsync.ChangeFeed] (whose entries are in Store.feed). Its
// maps are made on first use.
type capabilities struct {
	mu        sync.Mutex
	ledger    map[string]ledgerEntry
	attempts  map[string]calsync.Attempt
	dead      map[string]calsync.DeadLetter
	tokens    map[string]vault.SealedToken
	accounts  map[string]calsync.Account
	leases    map[string]lease
	consumers map[string]int64
}

// lock locks the capabilities' state, making its maps if needed.
func (s *Store) lock() *capabilities {
	x := &s.caps
	x.mu.Lock()
	if x.ledger == nil {
		x.ledger = make(map[string]ledgerEntry)
		x.attempts = make(map[string]calsync.Attempt)
		x.dead = make(map[string]calsync.DeadLetter)
		x.tokens = make(map[string]vault.SealedToken)
		x.accounts = make(map[string]calsync.Account)
		x.leases = make(map[string]lease)
		x.consumers = make(map[string]int64)
	}
	return x
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		cals: make(map[string]*calendar),
		subs: make(map[string]calsync.Subscription),
	}
}

func notFound(what, id string) error {
	return fmt.Errorf("memory: %s %q: %w", what, id, calsync.ErrNotFound)
}

// PutCalendar creates or replaces a calendar. Replacing keeps its events,
// sync state and subscriptions.
func (s *Store) PutCalendar(ctx context.Context, cal calsync.Calendar) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if cal.ID == "" {
		return errors.New("memory: PutCalendar: empty calendar ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cals[cal.ID]; ok {
		c.cal = cal
		return nil
	}
	s.cals[cal.ID] = &calendar{cal: cal, events: make(map[string]*entry), sorted: true}
	return nil
}

// Calendar returns the calendar with the given id.
func (s *Store) Calendar(ctx context.Context, id string) (calsync.Calendar, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Calendar{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[id]
	if !ok {
		return calsync.Calendar{}, notFound("calendar", id)
	}
	return c.cal, nil
}

// ListCalendars returns every calendar, ordered by id.
func (s *Store) ListCalendars(ctx context.Context) ([]calsync.Calendar, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]calsync.Calendar, 0, len(s.cals))
	for _, c := range s.cals {
		out = append(out, c.cal)
	}
	slices.SortFunc(out, func(a, b calsync.Calendar) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteCalendar removes a calendar with its events, sync state and
// subscriptions. It returns an error wrapping ErrNotFound if there is no
// such calendar.
func (s *Store) DeleteCalendar(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cals[id]; !ok {
		return notFound("calendar", id)
	}
	delete(s.cals, id)
	for sid, sub := range s.subs {
		if sub.CalendarID == id {
			delete(s.subs, sid)
		}
	}
	return nil
}

// SyncState returns the calendar's sync state.
func (s *Store) SyncState(ctx context.Context, calendarID string) (calsync.SyncState, error) {
	if err := ctx.Err(); err != nil {
		return calsync.SyncState{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return calsync.SyncState{}, notFound("calendar", calendarID)
	}
	return c.state, nil
}

// validate reports the first invalid change of b, so that Apply can refuse
// the batch before changing anything.
func validate(b *calsync.Batch) error {
	if b.Sweep && b.Generation == 0 {
		return errors.New("memory: Apply: Sweep without a Generation")
	}
	for i, ch := range b.Changes {
		if ch.EventID == "" {
			return fmt.Errorf("memory: Apply: change %d: empty EventID", i)
		}
		switch ch.Op {
		case calsync.Upsert:
			if ch.Event == nil {
				return fmt.Errorf("memory: Apply: change %d: upsert of %q without an Event", i, ch.EventID)
			}
			if ch.Event.ID != ch.EventID {
				return fmt.Errorf("memory: Apply: change %d: Event.ID %q is not EventID %q", i, ch.Event.ID, ch.EventID)
			}
		case calsync.Delete:
			if ch.Event != nil && ch.Event.ID != "" && ch.Event.ID != ch.EventID {
				return fmt.Errorf("memory: Apply: change %d: Event.ID %q is not EventID %q", i, ch.Event.ID, ch.EventID)
			}
		default:
			return fmt.Errorf("memory: Apply: change %d: unknown operation %v", i, ch.Op)
		}
	}
	return nil
}

// Apply applies a batch of changes and writes b.State atomically, following
// the rules of [calsync.Batch]; b.Expect is checked under the same lock.
func (s *Store) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("memory: Apply: nil batch")
	}
	if err := validate(b); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return nil, notFound("calendar", calendarID)
	}
	if e := b.Expect; e != nil && (e.Cursor != c.state.Cursor || e.PageToken != c.state.PageToken || e.Generation != c.state.Generation) {
		return nil, fmt.Errorf("memory: Apply: calendar %q: %w", calendarID, calsync.ErrConflict)
	}
	// Nothing below can fail: the batch was validated above.
	res := &calsync.ApplyResult{Applied: make([]calsync.Change, 0, len(b.Changes))}
	for _, ch := range b.Changes {
		cur := c.events[ch.EventID]
		switch ch.Op {
		case calsync.Upsert:
			if cur != nil {
				if b.Generation != 0 {
					cur.gen = b.Generation
				}
				if ch.Event.Updated.Before(cur.ev.Updated) {
					res.Stale++
					continue
				}
				if ch.Event.Updated.Equal(cur.ev.Updated) && ch.Event.ETag == cur.ev.ETag {
					continue
				}
			}
			ev := ch.Event.Clone()
			ev.CalendarID = calendarID
			ev.Version = 1
			if cur != nil {
				ev.Version = cur.ev.Version + 1
				cur.ev = ev
			} else {
				c.events[ch.EventID] = &entry{ev: ev, gen: b.Generation}
				c.insertID(ch.EventID)
			}
			out := ev.Clone()
			res.Applied = append(res.Applied, calsync.Change{Op: calsync.Upsert, EventID: ch.EventID, Event: &out})
		case calsync.Delete:
			if cur != nil && ch.Event != nil && !ch.Event.Updated.IsZero() && ch.Event.Updated.Before(cur.ev.Updated) {
				if b.Generation != 0 {
					cur.gen = b.Generation
				}
				res.Stale++
				continue
			}
			if cur != nil {
				delete(c.events, ch.EventID)
				c.sorted = false
			}
			out := calsync.Change{Op: calsync.Delete, EventID: ch.EventID}
			if ch.Event != nil {
				ev := ch.Event.Clone()
				out.Event = &ev
			}
			res.Applied = append(res.Applied, out)
		}
	}
	if series := plan.DeletedSeries(res.Applied); len(series) > 0 {
		deleted := make(map[string]bool, len(series))
		for _, id := range series {
			deleted[id] = true
		}
		var gone []string
		for id, e := range c.events {
			if e.ev.RecurringEventID != "" && deleted[e.ev.RecurringEventID] {
				gone = append(gone, id)
			}
		}
		for _, id := range gone {
			delete(c.events, id)
			c.sorted = false
		}
		res.Applied = append(res.Applied, plan.Deletes(calendarID, gone)...)
	}
	if b.Sweep {
		var swept []string
		for id, e := range c.events {
			if e.gen != b.Generation {
				swept = append(swept, id)
			}
		}
		for _, id := range swept {
			delete(c.events, id)
		}
		res.Applied = append(res.Applied, plan.Deletes(calendarID, swept)...)
		if len(swept) > 0 {
			c.sorted = false
		}
	}
	c.state = b.State
	res.Seq = s.feed.append(calendarID, res.Applied, time.Now())
	if b.Complete != nil {
		s.complete(b.Complete)
		res.Completed = true
	}
	return res, nil
}

// insertID records a new event id, keeping ids sorted when that is cheap
// (ids arriving in order) and marking them unsorted otherwise.
func (c *calendar) insertID(id string) {
	if c.sorted && (len(c.ids) == 0 || c.ids[len(c.ids)-1] < id) {
		c.ids = append(c.ids, id)
		return
	}
	c.sorted = false
}

// sortedIDs returns the calendar's event ids in byte order.
func (c *calendar) sortedIDs() []string {
	if !c.sorted {
		c.ids = c.ids[:0]
		for id := range c.events {
			c.ids = append(c.ids, id)
		}
		sort.Strings(c.ids)
		c.sorted = true
	}
	return c.ids
}

// Event returns one event.
func (s *Store) Event(ctx context.Context, calendarID, eventID string) (calsync.Event, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Event{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return calsync.Event{}, notFound("calendar", calendarID)
	}
	e, ok := c.events[eventID]
	if !ok {
		return calsync.Event{}, notFound("event", eventID)
	}
	return e.ev.Clone(), nil
}

// ListEvents returns up to limit events of the calendar whose id sorts after
// afterID (byte order), ordered by id. It returns an error wrapping
// ErrNotFound if the calendar does not exist.
func (s *Store) ListEvents(ctx context.Context, calendarID, afterID string, limit int) ([]calsync.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: ListEvents: limit %d is not positive", limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return nil, notFound("calendar", calendarID)
	}
	ids := c.sortedIDs()
	i := sort.Search(len(ids), func(i int) bool { return ids[i] > afterID })
	ids = ids[i:min(len(ids), i+limit)]
	out := make([]calsync.Event, len(ids))
	for i, id := range ids {
		out[i] = c.events[id].ev.Clone()
	}
	return out, nil
}

// PutSubscription creates or replaces a subscription. It keeps SecretHash
// and drops the plaintext Secret, as the durable stores do.
func (s *Store) PutSubscription(ctx context.Context, sub calsync.Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if sub.ID == "" {
		return errors.New("memory: PutSubscription: empty subscription ID")
	}
	sub.Secret = ""
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub.ID] = sub
	return nil
}

// Subscription returns the subscription with the given id.
func (s *Store) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Subscription{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[id]
	if !ok {
		return calsync.Subscription{}, notFound("subscription", id)
	}
	return sub, nil
}

// ListSubscriptions returns the calendar's subscriptions, ordered by id;
// none (and no error) for a calendar without subscriptions.
func (s *Store) ListSubscriptions(ctx context.Context, calendarID string) ([]calsync.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []calsync.Subscription
	for _, sub := range s.subs {
		if sub.CalendarID == calendarID {
			out = append(out, sub)
		}
	}
	slices.SortFunc(out, func(a, b calsync.Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ExpiringSubscriptions returns every subscription whose expiration is
// before t, ordered by expiration (then id).
func (s *Store) ExpiringSubscriptions(ctx context.Context, before time.Time) ([]calsync.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []calsync.Subscription
	for _, sub := range s.subs {
		if sub.Expiration.Before(before) {
			out = append(out, sub)
		}
	}
	slices.SortFunc(out, func(a, b calsync.Subscription) int {
		if c := a.Expiration.Compare(b.Expiration); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteSubscription removes a subscription. It returns an error wrapping
// ErrNotFound if there is no such subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[id]; !ok {
		return notFound("subscription", id)
	}
	delete(s.subs, id)
	return nil
}
