package calsync

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/calsync/calsync/recur"
)

// TimeIndex is an optional capability of a [Store]: finding a calendar's
// events by time. store/memory, store/sqlite and store/postgres implement
// it (the durable stores with an index on the interval [IndexSpan] gives
// each event, computed when the event is written); store/storetest checks
// it. [Engine.EventsBetween] uses it, and without it reads every event of
// the calendar.
type TimeIndex interface {
	// EventsBetween returns the calendar's events for which
	// InRange(ev, from, to) is true, ordered by id: the events that
	// overlap [from, to), whole series whose span does, and the exceptions
	// whose original occurrence starts in it. It returns an error wrapping
	// ErrNotFound if the calendar does not exist.
	EventsBetween(ctx context.Context, calendarID string, from, to time.Time) ([]Event, error)
}

// Forever is the end [IndexSpan] gives a series without an end.
var Forever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// UTC offsets run from -12:00 to +14:00: a date starts, somewhere, between
// 14 hours before and 12 hours after its midnight UTC.
const (
	dateEarliest = -14 * time.Hour
	dateLatest   = 12 * time.Hour
)

// IndexSpan returns the interval [start, end] a time index keeps for ev,
// which holds ev wherever [InRange] can find it, so that a Store can
// select with start < to AND end > from and then apply InRange:
//
//   - an event, its Start to its End;
//   - a series master (an event with Recurrence and no RecurringEventID),
//     its Start to the end of its last occurrence ([recur.Set.Last] plus
//     the master's duration), or to [Forever] when the rule has no end or
//     cannot be read;
//   - an exception (RecurringEventID and OriginalStart set), also its
//     OriginalStart, and a cancelled exception (which Google sends without
//     Start and End) only that.
//
// All-day dates hold every time zone's midnight: from 14 hours before
// their midnight UTC to 12 hours after. An event with no times at all
// gets the zero interval, which no range overlaps.
func IndexSpan(ev Event) (start, end time.Time) {
	add := func(s, e time.Time) {
		if start.IsZero() || s.Before(start) {
			start = s
		}
		if e.After(end) {
			end = e
		}
	}
	if s, e, ok := seriesSpan(ev, time.UTC); ok {
		if ev.Start.AllDay() {
			s, e = s.Add(dateEarliest), e.Add(dateLatest)
		}
		add(s, e)
		return start, end
	}
	if s, ok := recur.Instant(ev.Start, time.UTC); ok {
		if e, ok := recur.Instant(ev.End, time.UTC); ok {
			if ev.Start.AllDay() {
				s = s.Add(dateEarliest)
			}
			if ev.End.AllDay() {
				e = e.Add(dateLatest)
			}
			add(s, later(e, s))
		}
	}
	if o := ev.OriginalStart; ev.RecurringEventID != "" && o != nil {
		if t, ok := recur.Instant(*o, time.UTC); ok {
			if o.AllDay() {
				add(t.Add(dateEarliest), t.Add(dateLatest))
			} else {
				add(t, t.Add(time.Second))
			}
		}
	}
	return start, end
}

// InRange reports whether ev belongs in EventsBetween(from, to) (see
// [TimeIndex]): a series master whose span, from its start to the end of
// its last occurrence (or forever), overlaps [from, to); any other event
// that overlaps it (starts before to and ends after from, Google's
// timeMin and timeMax); or an exception whose OriginalStart is in [from,
// to), so that the occurrence it replaces is known to be replaced. All-day
// dates are read in from's location.
func InRange(ev Event, from, to time.Time) bool {
	if s, e, ok := seriesSpan(ev, from.Location()); ok {
		return s.Before(to) && e.After(from)
	}
	if recur.Overlaps(ev.Start, ev.End, from, to) {
		return true
	}
	if o := ev.OriginalStart; ev.RecurringEventID != "" && o != nil {
		t, ok := recur.Instant(*o, from.Location())
		return ok && !t.Before(from) && t.Before(to)
	}
	return false
}

// seriesMaster reports whether ev is the master of a series.
func seriesMaster(ev Event) bool {
	return len(ev.Recurrence) > 0 && ev.RecurringEventID == ""
}

// seriesSpan returns the span of a series master, all-day dates at
// midnight in loc; ok is false for any other event.
func seriesSpan(ev Event, loc *time.Location) (start, end time.Time, ok bool) {
	if !seriesMaster(ev) {
		return time.Time{}, time.Time{}, false
	}
	start, ok = recur.Instant(ev.Start, loc)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	end = Forever
	set, err := recur.Parse(ev.Start, ev.Recurrence)
	if err != nil {
		return start, end, true
	}
	last, bounded := set.Last()
	if !bounded {
		return start, end, true
	}
	if ev.Start.AllDay() {
		s, ok1 := recur.Instant(ev.Start, time.UTC)
		e, ok2 := recur.Instant(ev.End, time.UTC)
		days := 1
		if ok1 && ok2 {
			days = max(int(e.Sub(s).Hours()/24+0.5), 0)
		}
		l, _ := recur.Instant(EventTime{Date: last.AddDate(0, 0, days).Format(time.DateOnly)}, loc)
		return start, later(l, start), true
	}
	dur := max(ev.End.DateTime.Sub(ev.Start.DateTime), 0)
	return start, later(last.Add(dur), start), true
}

// EventsBetween returns the occurrences of the calendar's events that
// overlap [from, to) (start before to, end after from; all-day dates in
// from's location), ordered by start, then id, in one shape whatever the
// provider: single events, and one event per occurrence of a recurring
// event, with RecurringEventID and OriginalStart set.
//
// Series kept as a master and its exceptions (Google in series mode) are
// expanded with [recur]: the occurrences as Google would list them with
// singleEvents (ids "<series>_<start>"), an exception in place of the
// occurrence it replaces, none for a cancelled one. Occurrences stored as
// events (Graph's calendarView, Google with SingleEvents) come back as
// stored. Cancelled events are left out. A master whose recurrence cannot
// be read comes back as itself, if it overlaps.
//
// It uses the Store's [TimeIndex] when it has one, and otherwise reads
// every event of the calendar. It returns an error wrapping ErrNotFound if
// the calendar does not exist.
func (e *Engine) EventsBetween(ctx context.Context, calendarID string, from, to time.Time) ([]Event, error) {
	evs, err := e.between(ctx, calendarID, from, to)
	if err != nil {
		return nil, err
	}
	type series struct {
		master Event
		set    *recur.Set
		ex     []Event
	}
	masters := map[string]*series{}
	var widen time.Duration
	var out []Event
	for _, ev := range evs {
		if !seriesMaster(ev) || ev.Status == "cancelled" {
			continue
		}
		set, err := recur.Parse(ev.Start, ev.Recurrence)
		if err != nil {
			if recur.Overlaps(ev.Start, ev.End, from, to) {
				out = append(out, ev)
			}
			continue
		}
		masters[ev.ID] = &series{master: ev, set: set}
		s, _ := recur.Instant(ev.Start, time.UTC)
		en, _ := recur.Instant(ev.End, time.UTC)
		widen = max(widen, en.Sub(s))
	}
	if len(masters) > 0 {
		// An occurrence that starts before from can still overlap the
		// range: the exceptions replacing such occurrences have their
		// original start up to a series' duration (and a DST hour) earlier.
		before, err := e.between(ctx, calendarID, from.Add(-widen-2*time.Hour), from)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.ID] = true
		}
		for _, ev := range before {
			if !seen[ev.ID] && masters[ev.RecurringEventID] != nil {
				evs = append(evs, ev)
			}
		}
	}
	for _, ev := range evs {
		switch {
		case seriesMaster(ev):
		case masters[ev.RecurringEventID] != nil:
			s := masters[ev.RecurringEventID]
			s.ex = append(s.ex, ev)
		case ev.Status != "cancelled" && recur.Overlaps(ev.Start, ev.End, from, to):
			out = append(out, ev)
		}
	}
	for _, s := range masters {
		out = append(out, s.set.Expand(s.master, s.ex, from, to)...)
	}
	recur.SortEvents(out, from.Location())
	return out, nil
}

// between returns the events of [TimeIndex.EventsBetween], from the Store's
// index or by reading every event.
func (e *Engine) between(ctx context.Context, calendarID string, from, to time.Time) ([]Event, error) {
	if ti, ok := e.cfg.Store.(TimeIndex); ok {
		evs, err := ti.EventsBetween(ctx, calendarID, from, to)
		if err != nil {
			return nil, fmt.Errorf("calsync: EventsBetween: %w", err)
		}
		return evs, nil
	}
	var out []Event
	after := ""
	for {
		page, err := e.cfg.Store.ListEvents(ctx, calendarID, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("calsync: EventsBetween: %w", err)
		}
		for _, ev := range page {
			if InRange(ev, from, to) {
				out = append(out, ev)
			}
		}
		if len(page) < 1000 {
			return slices.Clip(out), nil
		}
		after = page[len(page)-1].ID
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
