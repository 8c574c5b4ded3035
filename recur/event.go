package recur

import (
	"cmp"
	"slices"
	"time"

	"github.com/calsync/calsync/provider"
)

// Expand returns the occurrences of the series master that overlap
// [from, to), with its exceptions applied, ordered by start (then id).
//
// An occurrence overlaps [from, to) when it starts before to and ends after
// from (Google's timeMin and timeMax); all-day dates are read in from's
// location. Each occurrence is a copy of master shaped as Google lists an
// instance with singleEvents: ID "<master id>_<start>" ([InstanceID]),
// RecurringEventID the master's id, OriginalStart and Start its start, End
// its start plus the master's duration, no Recurrence and no Raw.
//
// exceptions are the master's exceptions (events whose RecurringEventID
// is master.ID; others are ignored): one whose OriginalStart matches an
// occurrence replaces it, and is itself returned if it overlaps [from,
// to) wherever it was moved; one with Status "cancelled" removes it.
func Expand(master provider.Event, exceptions []provider.Event, from, to time.Time) ([]provider.Event, error) {
	set, err := Parse(master.Start, master.Recurrence)
	if err != nil {
		return nil, err
	}
	return set.Expand(master, exceptions, from, to), nil
}

// Expand is [Expand] with the master's recurrence already parsed into s.
func (s *Set) Expand(master provider.Event, exceptions []provider.Event, from, to time.Time) []provider.Event {
	replaced := map[string]bool{}
	var out []provider.Event
	for _, ex := range exceptions {
		if ex.RecurringEventID != master.ID || ex.OriginalStart == nil {
			continue
		}
		replaced[key(*ex.OriginalStart)] = true
		if ex.Status != "cancelled" && Overlaps(ex.Start, ex.End, from, to) {
			out = append(out, ex.Clone())
		}
	}
	if s.allDay {
		days := 1
		if e, err := date(master.End.Date); err == nil {
			if st, err := date(master.Start.Date); err == nil {
				days = max(int(e.Sub(st).Hours()/24+0.5), 0)
			}
		}
		// An occurrence starting up to days-1 days before from still
		// overlaps it.
		for _, d := range s.Starts(from.AddDate(0, 0, -max(days-1, 0)), to) {
			st := provider.EventTime{Date: d.Format(time.DateOnly), TimeZone: master.Start.TimeZone}
			if replaced[key(st)] {
				continue
			}
			en := provider.EventTime{Date: d.AddDate(0, 0, days).Format(time.DateOnly), TimeZone: master.End.TimeZone}
			if Overlaps(st, en, from, to) {
				out = append(out, occurrence(master, st, en))
			}
		}
	} else {
		dur := max(master.End.DateTime.Sub(master.Start.DateTime), 0)
		for _, t := range s.Starts(from.Add(-dur), to) {
			st := provider.EventTime{DateTime: t.UTC(), TimeZone: master.Start.TimeZone}
			if replaced[key(st)] {
				continue
			}
			en := provider.EventTime{DateTime: t.Add(dur).UTC(), TimeZone: master.End.TimeZone}
			if Overlaps(st, en, from, to) {
				out = append(out, occurrence(master, st, en))
			}
		}
	}
	SortEvents(out, from.Location())
	return out
}

func occurrence(master provider.Event, start, end provider.EventTime) provider.Event {
	o := master
	o.Raw, o.Recurrence = nil, nil
	o.ID = InstanceID(master.ID, start)
	o.RecurringEventID = master.ID
	o.Start, o.End = start, end
	os := start
	o.OriginalStart = &os
	return o
}

// key identifies an occurrence by its original start: the date of an
// all-day one, the second of a timed one.
func key(t provider.EventTime) string {
	if t.Date != "" {
		return t.Date
	}
	return t.DateTime.UTC().Truncate(time.Second).Format("20060102T150405Z")
}

// InstanceID returns the id Google gives the occurrence of series seriesID
// that starts (originally) at start: "<seriesID>_20260302T140000Z" (UTC)
// for a timed one, "<seriesID>_20260302" for an all-day one.
func InstanceID(seriesID string, start provider.EventTime) string {
	if start.Date != "" {
		d, err := date(start.Date)
		if err == nil {
			return seriesID + "_" + d.Format("20060102")
		}
		return seriesID + "_" + start.Date
	}
	return seriesID + "_" + key(start)
}

// Instant returns the instant t stands for: its DateTime, or for a date
// its midnight in loc. ok is false for a zero or malformed t.
func Instant(t provider.EventTime, loc *time.Location) (time.Time, bool) {
	if t.Date != "" {
		d, err := date(t.Date)
		if err != nil {
			return time.Time{}, false
		}
		return resolve(d, loc), true
	}
	return t.DateTime, !t.DateTime.IsZero()
}

// Overlaps reports whether an event from start to end overlaps [from, to):
// it starts before to and ends after from, all-day dates read in from's
// location. An event without a start or an end overlaps nothing.
func Overlaps(start, end provider.EventTime, from, to time.Time) bool {
	s, ok1 := Instant(start, from.Location())
	e, ok2 := Instant(end, from.Location())
	return ok1 && ok2 && s.Before(to) && e.After(from)
}

// SortEvents sorts events by start instant (all-day dates at midnight in
// loc), then by id.
func SortEvents(evs []provider.Event, loc *time.Location) {
	slices.SortFunc(evs, func(a, b provider.Event) int {
		ta, _ := Instant(a.Start, loc)
		tb, _ := Instant(b.Start, loc)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
