package googletest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// recurrence is the supported subset of RFC 5545 recurrence lines: one
// RRULE with FREQ=DAILY or WEEKLY, INTERVAL, COUNT, UNTIL, BYDAY (plain
// weekdays) and WKST, plus EXDATE lines.
type recurrence struct {
	freq      string
	interval  int
	count     int
	until     time.Time
	untilDate bool // UNTIL was a DATE: it includes that whole day
	hasUntil  bool
	byDay     []time.Weekday
	wkst      time.Weekday
	exdates   []exdate
}

type exdate struct {
	date bool      // VALUE=DATE: excludes the occurrence on that date
	t    time.Time // instant, or midnight UTC of the date
}

var weekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

func parseRecurrence(lines []string) (*recurrence, error) {
	var rec *recurrence
	var exdates []exdate
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %q has no value", line)
		}
		name, params, _ := strings.Cut(name, ";")
		switch strings.ToUpper(name) {
		case "RRULE":
			if rec != nil {
				return nil, errors.New("only one RRULE is supported")
			}
			r, err := parseRRule(value)
			if err != nil {
				return nil, err
			}
			rec = r
		case "EXDATE":
			ex, err := parseExdate(params, value)
			if err != nil {
				return nil, err
			}
			exdates = append(exdates, ex...)
		default:
			return nil, fmt.Errorf("%s is not supported by the emulator", name)
		}
	}
	if rec == nil {
		return nil, errors.New("an RRULE is required")
	}
	rec.exdates = exdates
	return rec, nil
}

func parseRRule(v string) (*recurrence, error) {
	r := &recurrence{interval: 1, wkst: time.Monday}
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("bad RRULE part %q", part)
		}
		switch strings.ToUpper(k) {
		case "FREQ":
			r.freq = strings.ToUpper(val)
			if r.freq != "DAILY" && r.freq != "WEEKLY" {
				return nil, fmt.Errorf("FREQ=%s is not supported by the emulator", val)
			}
		case "INTERVAL":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad INTERVAL %q", val)
			}
			r.interval = n
		case "COUNT":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad COUNT %q", val)
			}
			r.count = n
		case "UNTIL":
			if t, err := time.Parse("20060102T150405Z", val); err == nil {
				r.until = t
			} else if t, err := time.Parse("20060102", val); err == nil {
				r.until, r.untilDate = t, true
			} else {
				return nil, fmt.Errorf("bad UNTIL %q", val)
			}
			r.hasUntil = true
		case "BYDAY":
			for _, d := range strings.Split(val, ",") {
				wd, ok := weekdays[strings.ToUpper(d)]
				if !ok {
					return nil, fmt.Errorf("BYDAY %q is not supported by the emulator", d)
				}
				r.byDay = append(r.byDay, wd)
			}
		case "WKST":
			wd, ok := weekdays[strings.ToUpper(val)]
			if !ok {
				return nil, fmt.Errorf("bad WKST %q", val)
			}
			r.wkst = wd
		default:
			return nil, fmt.Errorf("RRULE part %s is not supported by the emulator", k)
		}
	}
	if r.freq == "" {
		return nil, errors.New("RRULE without FREQ")
	}
	if r.count > 0 && r.hasUntil {
		return nil, errors.New("COUNT and UNTIL are mutually exclusive")
	}
	return r, nil
}

func parseExdate(params, value string) ([]exdate, error) {
	var loc *time.Location = time.UTC
	isDate := false
	for _, p := range strings.Split(params, ";") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "TZID":
			l, err := loadZone(v)
			if err != nil {
				return nil, fmt.Errorf("bad TZID %q", v)
			}
			loc = l
		case "VALUE":
			isDate = strings.EqualFold(v, "DATE")
		}
	}
	var out []exdate
	for _, s := range strings.Split(value, ",") {
		switch {
		case isDate || len(s) == 8:
			t, err := time.Parse("20060102", s)
			if err != nil {
				return nil, fmt.Errorf("bad EXDATE %q", s)
			}
			out = append(out, exdate{date: true, t: t})
		case strings.HasSuffix(s, "Z"):
			t, err := time.Parse("20060102T150405Z", s)
			if err != nil {
				return nil, fmt.Errorf("bad EXDATE %q", s)
			}
			out = append(out, exdate{t: t})
		default:
			t, err := time.ParseInLocation("20060102T150405", s, loc)
			if err != nil {
				return nil, fmt.Errorf("bad EXDATE %q", s)
			}
			out = append(out, exdate{t: t})
		}
	}
	return out, nil
}

// occurrence is one expanded start: an instant for timed events, a date
// (midnight UTC) for all-day events.
type occurrence struct {
	start time.Time
}

// expand lists the occurrences of rec for an event starting at start. It
// stops at COUNT, UNTIL, MaxInstances, or horizon (whichever comes first);
// bounded reports whether the rule ended by itself (COUNT or UNTIL) rather
// than by a cap.
func (rec *recurrence) expand(start when, horizon time.Time) (occs []occurrence, bounded bool) {
	loc := start.loc
	if start.allDay {
		loc = time.UTC
	}
	dt := start.t.In(loc)
	y, mo, d := dt.Date()
	hh, mi, ss := dt.Clock()
	ns := dt.Nanosecond()
	at := func(dayOffset int) time.Time {
		return time.Date(y, mo, d+dayOffset, hh, mi, ss, ns, loc)
	}
	days := map[time.Weekday]bool{}
	for _, wd := range rec.byDay {
		days[wd] = true
	}
	if rec.freq == "WEEKLY" && len(days) == 0 {
		days[dt.Weekday()] = true
	}
	emitted := 0
	// emit handles one candidate; it returns false when expansion must stop.
	emit := func(t time.Time) bool {
		if rec.hasUntil {
			limit := rec.until
			if rec.untilDate {
				uy, um, ud := rec.until.Date()
				limit = time.Date(uy, um, ud+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
			}
			if start.allDay && !rec.untilDate {
				limit = time.Date(limit.Year(), limit.Month(), limit.Day(), 0, 0, 0, 0, time.UTC)
			}
			if t.After(limit) {
				bounded = true
				return false
			}
		}
		if rec.count > 0 && emitted >= rec.count {
			bounded = true
			return false
		}
		if emitted >= MaxInstances || t.After(horizon) {
			return false
		}
		emitted++
		if !rec.excluded(t, start.allDay) {
			occs = append(occs, occurrence{start: t})
		}
		return true
	}
	// guard bounds the loop even for rules whose candidates never match.
	const guard = 20000
	switch rec.freq {
	case "DAILY":
		for k := 0; k < guard; k++ {
			t := at(k * rec.interval)
			if len(days) > 0 && !days[t.Weekday()] {
				continue
			}
			if !emit(t) {
				return occs, bounded
			}
		}
	case "WEEKLY":
		back := (int(dt.Weekday()) - int(rec.wkst) + 7) % 7
		for w := 0; w < guard; w += rec.interval {
			for i := 0; i < 7; i++ {
				off := -back + w*7 + i
				t := at(off)
				if !days[t.Weekday()] || t.Before(dt) {
					continue
				}
				if !emit(t) {
					return occs, bounded
				}
			}
		}
	}
	return occs, bounded
}

func (rec *recurrence) excluded(t time.Time, allDay bool) bool {
	for _, ex := range rec.exdates {
		if ex.date || allDay {
			if ex.t.Year() == t.Year() && ex.t.YearDay() == t.YearDay() {
				return true
			}
			continue
		}
		if ex.t.Equal(t) {
			return true
		}
	}
	return false
}
