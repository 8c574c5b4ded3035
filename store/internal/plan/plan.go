// Package plan turns a [calsync.Batch] into the writes a database store
// performs, following the rules of [calsync.Batch] exactly once, in Go, so
// that store/sqlite and store/postgres cannot drift apart.
//
// A store reads the current (updated, etag, version) of every event the
// batch names, under a lock that keeps other Applies of the calendar out,
// calls [Make], and executes the resulting Plan: one write per event id (the
// end state of the batch for that id), whatever order the changes came in.
package plan

import (
	"fmt"
	"slices"
	"time"

	"github.com/calsync/calsync"
)

// Validate reports the first invalid change of b, so that Apply can refuse
// the batch before changing anything. prefix starts the message ("sqlite").
func Validate(prefix string, b *calsync.Batch) error {
	if b == nil {
		return fmt.Errorf("%s: Apply: nil batch", prefix)
	}
	if b.Sweep && b.Generation == 0 {
		return fmt.Errorf("%s: Apply: Sweep without a Generation", prefix)
	}
	for i, ch := range b.Changes {
		if ch.EventID == "" {
			return fmt.Errorf("%s: Apply: change %d: empty EventID", prefix, i)
		}
		switch ch.Op {
		case calsync.Upsert:
			if ch.Event == nil {
				return fmt.Errorf("%s: Apply: change %d: upsert of %q without an Event", prefix, i, ch.EventID)
			}
			if ch.Event.ID != ch.EventID {
				return fmt.Errorf("%s: Apply: change %d: Event.ID %q is not EventID %q", prefix, i, ch.Event.ID, ch.EventID)
			}
		case calsync.Delete:
			if ch.Event != nil && ch.Event.ID != "" && ch.Event.ID != ch.EventID {
				return fmt.Errorf("%s: Apply: change %d: Event.ID %q is not EventID %q", prefix, i, ch.Event.ID, ch.EventID)
			}
		default:
			return fmt.Errorf("%s: Apply: change %d: unknown operation %v", prefix, i, ch.Op)
		}
	}
	return nil
}

// Matches reports whether the stored sync state st is what b expects: true
// when b.Expect is nil, else whether Cursor, PageToken and Generation are
// equal (LastSync is not compared).
func Matches(b *calsync.Batch, st calsync.SyncState) bool {
	e := b.Expect
	return e == nil || (e.Cursor == st.Cursor && e.PageToken == st.PageToken && e.Generation == st.Generation)
}

// Conflict is the error Apply returns when b.Expect does not match the
// stored sync state of calendarID.
func Conflict(prefix, calendarID string) error {
	return fmt.Errorf("%s: Apply: calendar %q: %w", prefix, calendarID, calsync.ErrConflict)
}

// IDs returns the distinct event ids of b, in first-seen order.
func IDs(b *calsync.Batch) []string {
	seen := make(map[string]struct{}, len(b.Changes))
	out := make([]string, 0, len(b.Changes))
	for _, ch := range b.Changes {
		if _, ok := seen[ch.EventID]; !ok {
			seen[ch.EventID] = struct{}{}
			out = append(out, ch.EventID)
		}
	}
	return out
}

// Current is what the store holds for one event before the batch.
type Current struct {
	Updated time.Time
	ETag    string
	Version int64
}

// Write is the end state of one event id after the batch.
type Write struct {
	// ID is the event id.
	ID string
	// Event is the event to store (CalendarID and Version set), or nil when
	// the row's content does not change.
	Event *calsync.Event
	// Existed reports whether the row existed before the batch; PrevVersion
	// is then its version, which the upsert's WHERE checks.
	Existed     bool
	PrevVersion int64
	// Generation is the stamp to store when SetGeneration is true; when it
	// is false an existing row keeps its stamp.
	Generation    int64
	SetGeneration bool
	// Delete removes the row (Existed is true, Event is nil).
	Delete bool
	// Recreate means the batch deleted the row and then upserted Event:
	// the store deletes the old row (version PrevVersion) and inserts
	// Event, which may be older than what the old row held.
	Recreate bool
}

// Stamp reports whether w only sets the row's generation.
func (w *Write) Stamp() bool { return w.Event == nil && !w.Delete }

// Plan is what Apply writes, and what it reports.
type Plan struct {
	// Writes holds one entry per event id that needs a write, in first-seen
	// order.
	Writes []Write
	// Result is the ApplyResult without the sweep's deletions.
	Result *calsync.ApplyResult
}

type state struct {
	existed bool
	prev    int64

	exists  bool
	updated time.Time
	etag    string
	version int64

	ev      *calsync.Event
	gen     int64
	genSet  bool
	deleted bool
}

// Make plans b for calendarID given the current rows (ids absent from cur
// are not stored).
func Make(calendarID string, b *calsync.Batch, cur map[string]Current) *Plan {
	p := &Plan{Result: &calsync.ApplyResult{Applied: make([]calsync.Change, 0, len(b.Changes))}}
	st := make(map[string]*state, len(b.Changes))
	var order []string
	for _, ch := range b.Changes {
		s, ok := st[ch.EventID]
		if !ok {
			s = &state{}
			if c, ok := cur[ch.EventID]; ok {
				s.existed, s.prev = true, c.Version
				s.exists, s.updated, s.etag, s.version = true, c.Updated, c.ETag, c.Version
			}
			st[ch.EventID] = s
			order = append(order, ch.EventID)
		}
		stamp := func() {
			if b.Generation != 0 {
				s.gen, s.genSet = b.Generation, true
			}
		}
		switch ch.Op {
		case calsync.Upsert:
			if s.exists {
				stamp()
				if ch.Event.Updated.Before(s.updated) {
					p.Result.Stale++
					continue
				}
				if ch.Event.Updated.Equal(s.updated) && ch.Event.ETag == s.etag {
					continue
				}
			} else {
				// A new row carries the batch's generation, zero or not.
				s.gen, s.genSet = b.Generation, true
			}
			ev := ch.Event.Clone()
			ev.CalendarID = calendarID
			ev.Version = 1
			if s.exists {
				ev.Version = s.version + 1
			}
			s.ev = &ev
			s.exists, s.updated, s.etag, s.version = true, ev.Updated, ev.ETag, ev.Version
			out := ev.Clone()
			p.Result.Applied = append(p.Result.Applied, calsync.Change{Op: calsync.Upsert, EventID: ch.EventID, Event: &out})
		case calsync.Delete:
			if s.exists && ch.Event != nil && !ch.Event.Updated.IsZero() && ch.Event.Updated.Before(s.updated) {
				stamp()
				p.Result.Stale++
				continue
			}
			if s.exists {
				s.exists, s.ev, s.gen, s.genSet, s.deleted = false, nil, 0, false, true
			}
			out := calsync.Change{Op: calsync.Delete, EventID: ch.EventID}
			if ch.Event != nil {
				ev := ch.Event.Clone()
				out.Event = &ev
			}
			p.Result.Applied = append(p.Result.Applied, out)
		}
	}
	for _, id := range order {
		s := st[id]
		w := Write{ID: id, Existed: s.existed, PrevVersion: s.prev, Generation: s.gen, SetGeneration: s.genSet}
		switch {
		case s.existed && !s.exists:
			w.Delete, w.SetGeneration = true, false
		case s.exists && s.ev != nil:
			w.Event = s.ev
			w.Recreate = s.existed && s.deleted
		case s.exists && s.genSet:
			// stamp only
		default:
			continue
		}
		p.Writes = append(p.Writes, w)
	}
	return p
}

// DeletedSeries returns the ids whose last change among applied is a
// Delete, in order: the series whose exceptions (events whose
// RecurringEventID is one of them) Apply deletes too, by the rules of
// [calsync.Batch].
func DeletedSeries(applied []calsync.Change) []string {
	last := make(map[string]calsync.ChangeOp, len(applied))
	var order []string
	for _, c := range applied {
		if _, seen := last[c.EventID]; !seen {
			order = append(order, c.EventID)
		}
		last[c.EventID] = c.Op
	}
	var ids []string
	for _, id := range order {
		if last[id] == calsync.Delete {
			ids = append(ids, id)
		}
	}
	return ids
}

// Deletes returns the Delete changes reporting the ids that Apply removed
// beyond the batch's own changes (the exceptions of a deleted series, the
// events a sweep removed), sorted by id. It sorts ids in place.
func Deletes(calendarID string, ids []string) []calsync.Change {
	slices.Sort(ids)
	out := make([]calsync.Change, 0, len(ids))
	for _, id := range ids {
		out = append(out, calsync.Change{Op: calsync.Delete, EventID: id, Event: &calsync.Event{ID: id, CalendarID: calendarID}})
	}
	return out
}
