package msgraphtest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// PatternedRecurrence is Graph's patternedRecurrence, the recurrence of a
// series master. Supported: pattern types "daily" and "weekly" (interval,
// daysOfWeek, firstDayOfWeek) and range types "endDate", "noEnd" and
// "numbered"; recurrenceTimeZone may be "" or "UTC" or an IANA zone name.
// Other patterns are rejected.
type PatternedRecurrence struct {
	Pattern RecurrencePattern `json:"pattern"`
	Range   RecurrenceRange   `json:"range"`
}

// RecurrencePattern is Graph's recurrencePattern.
type RecurrencePattern struct {
	// Type is "daily" or "weekly".
	Type string `json:"type"`
	// Interval is the number of days or weeks between occurrences; 0
	// means 1.
	Interval int `json:"interval"`
	// Month, DayOfMonth and Index are part of Graph's shape; only the
	// zero values are supported.
	Month      int    `json:"month"`
	DayOfMonth int    `json:"dayOfMonth"`
	Index      string `json:"index,omitempty"`
	// DaysOfWeek lists "monday" ... "sunday" for weekly patterns; empty
	// means the weekday of the start.
	DaysOfWeek []string `json:"daysOfWeek,omitempty"`
	// FirstDayOfWeek starts the week for weekly intervals; default
	// "sunday".
	FirstDayOfWeek string `json:"firstDayOfWeek,omitempty"`
}

// RecurrenceRange is Graph's recurrenceRange.
type RecurrenceRange struct {
	// Type is "endDate", "noEnd" or "numbered".
	Type string `json:"type"`
	// StartDate is the first date (yyyy-mm-dd) of the series; "" means the
	// date of the master's start.
	StartDate string `json:"startDate"`
	// EndDate is the last date (yyyy-mm-dd, inclusive) for "endDate".
	EndDate string `json:"endDate"`
	// NumberOfOccurrences is the count for "numbered".
	NumberOfOccurrences int `json:"numberOfOccurrences"`
	// RecurrenceTimeZone is the zone the pattern is evaluated in; "" means
	// UTC.
	RecurrenceTimeZone string `json:"recurrenceTimeZone"`
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday,
	"saturday": time.Saturday,
}

// normalize checks rec and fills its defaults.
func (rec *PatternedRecurrence) normalize(start time.Time) error {
	p, r := &rec.Pattern, &rec.Range
	p.Type = strings.ToLower(p.Type)
	r.Type = strings.ToLower(r.Type)
	if p.Type != "daily" && p.Type != "weekly" {
		return fmt.Errorf("recurrence pattern type %q is not supported (daily, weekly)", p.Type)
	}
	if p.Interval == 0 {
		p.Interval = 1
	}
	if p.Interval < 0 || p.Interval > 999 {
		return fmt.Errorf("recurrence interval %d is out of range", p.Interval)
	}
	if p.Month != 0 || p.DayOfMonth != 0 || (p.Index != "" && p.Index != "first") {
		return fmt.Errorf("recurrence month, dayOfMonth and index are not supported")
	}
	loc, err := recurrenceLocation(r.RecurrenceTimeZone)
	if err != nil {
		return err
	}
	for i, d := range p.DaysOfWeek {
		d = strings.ToLower(d)
		if _, ok := weekdays[d]; !ok {
			return fmt.Errorf("recurrence daysOfWeek %q is not a weekday", d)
		}
		p.DaysOfWeek[i] = d
	}
	if p.Type == "weekly" && len(p.DaysOfWeek) == 0 {
		p.DaysOfWeek = []string{strings.ToLower(start.In(loc).Weekday().String())}
	}
	if p.FirstDayOfWeek == "" {
		p.FirstDayOfWeek = "sunday"
	}
	p.FirstDayOfWeek = strings.ToLower(p.FirstDayOfWeek)
	if _, ok := weekdays[p.FirstDayOfWeek]; !ok {
		return fmt.Errorf("recurrence firstDayOfWeek %q is not a weekday", p.FirstDayOfWeek)
	}
	if r.StartDate == "" {
		r.StartDate = start.In(loc).Format(time.DateOnly)
	}
	if _, err := time.Parse(time.DateOnly, r.StartDate); err != nil {
		return fmt.Errorf("recurrence startDate %q: %v", r.StartDate, err)
	}
	switch r.Type {
	case "enddate":
		r.Type = "endDate"
		if _, err := time.Parse(time.DateOnly, r.EndDate); err != nil {
			return fmt.Errorf("recurrence endDate %q: %v", r.EndDate, err)
		}
	case "noend":
		r.Type = "noEnd"
		r.EndDate = "0001-01-01"
	case "numbered":
		if r.NumberOfOccurrences < 1 {
			return fmt.Errorf("recurrence numberOfOccurrences must be positive")
		}
		r.EndDate = "0001-01-01"
	default:
		return fmt.Errorf("recurrence range type %q is not supported (endDate, noEnd, numbered)", r.Type)
	}
	return nil
}

func recurrenceLocation(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "UTC") {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("recurrenceTimeZone %q is not supported (UTC or an IANA name)", name)
	}
	return loc, nil
}

// expand returns the original start times of the series that starts at
// start (the master's start) with rec, at most MaxOccurrences and not later
// than ExpansionHorizon after start. rec must be normalized.
func expand(start time.Time, rec *PatternedRecurrence) []time.Time {
	loc, _ := recurrenceLocation(rec.Range.RecurrenceTimeZone)
	local := start.In(loc)
	h, mi, sec := local.Clock()
	ns := local.Nanosecond()
	first, _ := time.ParseInLocation(time.DateOnly, rec.Range.StartDate, loc)
	var last time.Time
	if rec.Range.Type == "endDate" {
		last, _ = time.ParseInLocation(time.DateOnly, rec.Range.EndDate, loc)
	}
	horizon := start.Add(ExpansionHorizon)
	if first.After(horizon) {
		return nil
	}
	limit := MaxOccurrences
	if rec.Range.Type == "numbered" {
		limit = min(limit, rec.Range.NumberOfOccurrences)
	}
	var out []time.Time
	// emit reports false when expansion must stop.
	emit := func(day time.Time) bool {
		if !last.IsZero() && day.After(last) {
			return false
		}
		t := time.Date(day.Year(), day.Month(), day.Day(), h, mi, sec, ns, loc)
		if t.After(horizon) {
			return false
		}
		out = append(out, t.UTC())
		return len(out) < limit
	}
	addDays := func(t time.Time, n int) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day()+n, 0, 0, 0, 0, loc)
	}
	iv := rec.Pattern.Interval
	switch rec.Pattern.Type {
	case "daily":
		for d := first; ; d = addDays(d, iv) {
			if !emit(d) {
				return out
			}
		}
	case "weekly":
		fdw := weekdays[rec.Pattern.FirstDayOfWeek]
		week := addDays(first, -((int(first.Weekday()) - int(fdw) + 7) % 7))
		for ; ; week = addDays(week, 7*iv) {
			for i := range 7 {
				d := addDays(week, i)
				if d.Before(first) || !slices.Contains(rec.Pattern.DaysOfWeek, strings.ToLower(d.Weekday().String())) {
					continue
				}
				if !emit(d) {
					return out
				}
			}
			if week.After(horizon) {
				return out
			}
		}
	}
	return out
}
