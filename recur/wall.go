package recur

import "time"

// Wall-clock arithmetic. The expansion works on floating times: the wall
// clock of the series' zone written as if it were UTC, which has no DST
// gaps or repeated hours. resolve turns a floating time back into an
// instant in the zone.

// floating returns the wall clock of t in loc as a floating time.
func floating(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	hh, mm, ss := t.In(loc).Clock()
	return time.Date(y, m, d, hh, mm, ss, t.Nanosecond(), time.UTC)
}

// resolve returns the instant at which the wall clock of loc shows the
// floating time w, as RFC 5545 section 3.3.5 reads a local time: a time
// that occurs twice (the hour repeated when clocks go back) is the first
// of the two, and a time that does not occur (skipped when clocks go
// forward) is read with the UTC offset in force before the gap, so 02:30
// on the day New York skips 02:00-03:00 is 03:30 EDT. (time.Date leaves
// the gap case unspecified, and answers differently by zone.)
func resolve(w time.Time, loc *time.Location) time.Time {
	if loc == time.UTC {
		return w
	}
	// Transitions are months apart: a day either side of w sees the
	// offsets before and after any transition near w.
	_, before := w.Add(-36 * time.Hour).In(loc).Zone()
	_, after := w.Add(36 * time.Hour).In(loc).Zone()
	c1 := w.Add(-time.Duration(before) * time.Second)
	if before == after {
		return c1.In(loc)
	}
	c2 := w.Add(-time.Duration(after) * time.Second)
	_, o1 := c1.In(loc).Zone()
	_, o2 := c2.In(loc).Zone()
	ok1, ok2 := o1 == before, o2 == after
	switch {
	case ok1 && ok2: // repeated: the first
		if c2.Before(c1) {
			return c2.In(loc)
		}
		return c1.In(loc)
	case ok2:
		return c2.In(loc)
	default: // ok1, or a gap: the offset before it
		return c1.In(loc)
	}
}

// date returns the floating midnight of a "2006-01-02" date.
func date(s string) (time.Time, error) {
	return time.Parse(time.DateOnly, s)
}
