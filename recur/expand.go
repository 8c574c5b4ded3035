package recur

import (
	"slices"
	"time"

	"github.com/teambition/rrule-go"
)

// MaxCount is the largest COUNT that [Set.Last] counts through; a rule
// with a larger COUNT is treated as having no end.
const MaxCount = 50000

// Starts returns the start of every occurrence that starts in [from, to),
// in order, without duplicates.
//
// A timed set's starts are instants (in the set's [Set.Location]). An
// all-day set's starts are dates, returned as midnight UTC; a date is in
// [from, to) when its midnight in from's location is, so a host asks for
// the days of a week in its user's zone by passing bounds in that zone.
func (s *Set) Starts(from, to time.Time) []time.Time {
	if !from.Before(to) {
		return nil
	}
	if s.allDay {
		loc := from.Location()
		fromF, toF := floating(from, loc), floating(to, loc)
		// A date is in the range when its midnight, in loc, is.
		lo := fromF.Truncate(24 * time.Hour)
		if lo.Before(fromF) {
			lo = lo.AddDate(0, 0, 1)
		}
		return s.floatingStarts(lo, toF)
	}
	// Floating times map to instants monotonically except around a DST
	// change; a few hours either side catch what lands inside.
	const slack = 3 * time.Hour
	fs := s.floatingStarts(floating(from, s.loc).Add(-slack), floating(to, s.loc).Add(slack))
	out := fs[:0]
	for _, f := range fs {
		t := resolve(f, s.loc)
		if !t.Before(from) && t.Before(to) && !s.excludedInstant(t) {
			out = append(out, t)
		}
	}
	// Two wall times can resolve to one instant (a gap); keep one.
	return slices.CompactFunc(out, time.Time.Equal)
}

// floatingStarts returns the floating starts in [from, to), sorted and
// without duplicates, with EXRULE and floating EXDATE applied (the
// instants of EXDATE are the caller's).
func (s *Set) floatingStarts(from, to time.Time) []time.Time {
	var out []time.Time
	for _, r := range s.rules {
		out = r.appendBetween(out, s, from, to)
	}
	if len(s.rules) == 0 && !s.start.Before(from) && s.start.Before(to) {
		out = append(out, s.start)
	}
	for _, d := range s.rdates {
		if !d.Before(from) && d.Before(to) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	out = slices.CompactFunc(out, time.Time.Equal)
	if len(s.ex) == 0 && len(s.exdates) == 0 && len(s.exdays) == 0 {
		return out
	}
	var ex []time.Time
	for _, r := range s.ex {
		ex = r.appendBetween(ex, s, from, to)
	}
	return slices.DeleteFunc(out, func(t time.Time) bool {
		if slices.ContainsFunc(ex, t.Equal) || slices.ContainsFunc(s.exdates, t.Equal) {
			return true
		}
		day := t.Truncate(24 * time.Hour)
		return slices.ContainsFunc(s.exdays, day.Equal)
	})
}

func (s *Set) excludedInstant(t time.Time) bool {
	return slices.ContainsFunc(s.exInstants, t.Equal)
}

// appendBetween appends to out the floating occurrences of r in [from,
// to), restarting the rule near from when it can.
func (r *rule) appendBetween(out []time.Time, s *Set, from, to time.Time) []time.Time {
	if r.never {
		return out
	}
	rr := r.rr
	if f := r.forward(from); f != nil && !s.slow {
		rr = f
	}
	next := rr.Iterator()
	for {
		t, ok := next()
		if !ok || !t.Before(to) {
			return out
		}
		if t.Before(from) || !r.within(s, t) {
			continue
		}
		out = append(out, t)
	}
}

// within reports whether the floating occurrence t is not after UNTIL.
func (r *rule) within(s *Set, t time.Time) bool {
	if r.until.IsZero() {
		return true
	}
	if s.allDay {
		return !t.After(r.until)
	}
	return !resolve(t, s.loc).After(r.until)
}

// forward returns r restarted at the latest period boundary, aligned with
// the rule's INTERVAL, at or before the floating time from; nil when it
// cannot be (COUNT counts from DTSTART; sub-daily frequencies) or need not
// be. Restarting is sound because parseRule pinned every default that
// RFC 5545 takes from DTSTART: what remains of DTSTART is where the
// periods start, and a period start of the same alignment is as good.
func (r *rule) forward(from time.Time) *rrule.RRule {
	o := r.opt
	if o.Count > 0 || o.Freq > rrule.DAILY || !o.Dtstart.Before(from) {
		return nil
	}
	iv := max(o.Interval, 1)
	d0 := o.Dtstart.Truncate(24 * time.Hour)
	f := from.Truncate(24 * time.Hour)
	var start time.Time
	switch o.Freq {
	case rrule.DAILY:
		n := int(f.Sub(d0) / (24 * time.Hour))
		start = d0.AddDate(0, 0, n/iv*iv)
	case rrule.WEEKLY:
		ws := func(t time.Time) time.Time {
			wk := (int(t.Weekday()) + 6) % 7 // Monday 0, as rrule.Weekday
			back := (wk - o.Wkst.Day() + 7) % 7
			return t.AddDate(0, 0, -back)
		}
		w0, wf := ws(d0), ws(f)
		n := int(wf.Sub(w0)/(24*time.Hour)) / 7
		start = w0.AddDate(0, 0, n/iv*iv*7)
		if start.Before(o.Dtstart) {
			return nil
		}
	case rrule.MONTHLY:
		n := (f.Year()-d0.Year())*12 + int(f.Month()) - int(d0.Month())
		k := n / iv * iv
		start = time.Date(d0.Year(), d0.Month()+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
	case rrule.YEARLY:
		n := f.Year() - d0.Year()
		start = time.Date(d0.Year()+n/iv*iv, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if !start.After(o.Dtstart) {
		return nil
	}
	o.Dtstart = start
	rr, err := rrule.NewRRule(o)
	if err != nil {
		return nil
	}
	return rr
}

// Last returns the start of the set's last occurrence (an instant, or for
// an all-day set a date as midnight UTC), and false when the set has no
// end: a rule without COUNT or UNTIL, or with a COUNT over [MaxCount]. A
// set without occurrences returns its DTSTART.
func (s *Set) Last() (time.Time, bool) {
	var last time.Time
	for _, r := range s.rules {
		t, ok := r.last(s)
		if !ok {
			return time.Time{}, false
		}
		if t.After(last) {
			last = t
		}
	}
	if n := len(s.rdates); n > 0 && s.rdates[n-1].After(last) {
		last = s.rdates[n-1]
	}
	if last.IsZero() {
		last = s.start
	}
	if s.allDay {
		return last, true
	}
	return resolve(last, s.loc), true
}

// last returns the floating start of r's last occurrence (before
// exclusions, which only make the set end earlier), or false when r has
// no end. A rule with neither returns the zero time.
func (r *rule) last(s *Set) (time.Time, bool) {
	o := r.opt
	switch {
	case r.never:
		return time.Time{}, true
	case o.Count > 0:
		if o.Count > MaxCount {
			return time.Time{}, false
		}
		var last time.Time
		next := r.rr.Iterator()
		for {
			t, ok := next()
			if !ok || !r.within(s, t) {
				return last, true
			}
			last = t
		}
	case r.until.IsZero():
		return time.Time{}, false
	}
	// Search back from UNTIL in widening windows, each expanded from a
	// restarted rule.
	end := floating(r.until, s.loc).Add(time.Second)
	if s.allDay {
		end = r.until.Add(time.Second)
	}
	for w := 366 * 24 * time.Hour; ; w *= 4 {
		from := end.Add(-w)
		if from.Before(s.start) {
			from = s.start
		}
		ts := r.appendBetween(nil, s, from, end)
		if len(ts) > 0 {
			return ts[len(ts)-1], true
		}
		if from.Equal(s.start) {
			return time.Time{}, true
		}
	}
}
