package msgraphtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/recur"
)

// PatternedRecurrence is Graph's patternedRecurrence, the recurrence of a
// series master: every pattern type ("daily", "weekly", "absoluteMonthly",
// "relativeMonthly", "absoluteYearly", "relativeYearly") and range type
// ("endDate", "noEnd", "numbered") of the recurrencePattern and
// recurrenceRange references; recurrenceTimeZone may be "" or "UTC" or an
// IANA zone name. The server converts it to an RFC 5545 RRULE and expands
// that with package [github.com/calsync/calsync/recur] in the
// recurrenceTimeZone.
type PatternedRecurrence struct {
	Pattern RecurrencePattern `json:"pattern"`
	Range   RecurrenceRange   `json:"range"`
}

// RecurrencePattern is Graph's recurrencePattern.
type RecurrencePattern struct {
	// Type is "daily", "weekly", "absoluteMonthly", "relativeMonthly",
	// "absoluteYearly" or "relativeYearly".
	Type string `json:"type"`
	// Interval is the number of days, weeks, months or years between
	// occurrences; 0 means 1.
	Interval int `json:"interval"`
	// Month (1-12) is the month of yearly patterns; DayOfMonth (1-31) the
	// day of absolute monthly and yearly ones.
	Month      int `json:"month"`
	DayOfMonth int `json:"dayOfMonth"`
	// Index picks among DaysOfWeek in relative patterns: "first"
	// (default), "second", "third", "fourth" or "last".
	Index string `json:"index,omitempty"`
	// DaysOfWeek lists "monday" ... "sunday" for weekly and relative
	// patterns; empty means, for weekly ones, the weekday of the start.
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
	typ, ok := patternTypes[p.Type]
	if !ok {
		return fmt.Errorf("recurrence pattern type %q is not a recurrencePatternType", p.Type)
	}
	if p.Interval == 0 {
		p.Interval = 1
	}
	if p.Interval < 0 || p.Interval > 999 {
		return fmt.Errorf("recurrence interval %d is out of range", p.Interval)
	}
	yearly := strings.HasSuffix(p.Type, "yearly")
	absolute := strings.HasPrefix(p.Type, "absolute")
	relative := strings.HasPrefix(p.Type, "relative")
	p.Type = typ
	switch {
	case yearly && (p.Month < 1 || p.Month > 12):
		return fmt.Errorf("recurrence month %d is out of range", p.Month)
	case !yearly && p.Month != 0:
		return fmt.Errorf("recurrence month is only for yearly patterns")
	case absolute && (p.DayOfMonth < 1 || p.DayOfMonth > 31):
		return fmt.Errorf("recurrence dayOfMonth %d is out of range", p.DayOfMonth)
	case !absolute && p.DayOfMonth != 0:
		return fmt.Errorf("recurrence dayOfMonth is only for absolute patterns")
	case relative && len(p.DaysOfWeek) == 0:
		return fmt.Errorf("recurrence daysOfWeek is required for relative patterns")
	}
	p.Index = strings.ToLower(p.Index)
	if _, ok := setPositions[p.Index]; !ok || (!relative && p.Index != "" && p.Index != "first") {
		return fmt.Errorf("recurrence index %q is not a weekIndex of a relative pattern", p.Index)
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

// patternTypes maps the lower-cased recurrencePatternType values to
// Graph's spelling.
var patternTypes = map[string]string{
	"daily": "daily", "weekly": "weekly", "absolutemonthly": "absoluteMonthly", "relativemonthly": "relativeMonthly",
	"absoluteyearly": "absoluteYearly", "relativeyearly": "relativeYearly",
}

var setPositions = map[string]string{"": "1", "first": "1", "second": "2", "third": "3", "fourth": "4", "last": "-1"}

// rfcWeekday is the RFC 5545 weekday ("SU") of a normalized dayOfWeek
// ("sunday").
func rfcWeekday(d string) string { return strings.ToUpper(weekdays[d].String()[:2]) }

// rrule renders rec (normalized) as an RFC 5545 RRULE value: the pattern
// as FREQ, INTERVAL and BYxxx parts (a relative pattern's index as
// BYSETPOS over its days), an endDate range as UNTIL with that date (the
// whole day, in the recurrenceTimeZone), a numbered range as COUNT.
func (rec *PatternedRecurrence) rrule() string {
	p, r := rec.Pattern, rec.Range
	p.Type = strings.ToLower(p.Type)
	var days []string
	for _, d := range p.DaysOfWeek {
		days = append(days, rfcWeekday(d))
	}
	parts := []string{"FREQ=" + strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(p.Type, "absolute"), "relative")),
		fmt.Sprintf("INTERVAL=%d", p.Interval)}
	if strings.HasSuffix(p.Type, "yearly") {
		parts = append(parts, fmt.Sprintf("BYMONTH=%d", p.Month))
	}
	switch {
	case p.Type == "weekly":
		parts = append(parts, "BYDAY="+strings.Join(days, ","), "WKST="+rfcWeekday(p.FirstDayOfWeek))
	case strings.HasPrefix(p.Type, "absolute"):
		parts = append(parts, fmt.Sprintf("BYMONTHDAY=%d", p.DayOfMonth))
	case strings.HasPrefix(p.Type, "relative"):
		parts = append(parts, "BYDAY="+strings.Join(days, ","), "BYSETPOS="+setPositions[p.Index])
	}
	switch r.Type {
	case "endDate":
		parts = append(parts, "UNTIL="+strings.ReplaceAll(r.EndDate, "-", ""))
	case "numbered":
		parts = append(parts, fmt.Sprintf("COUNT=%d", r.NumberOfOccurrences))
	}
	return strings.Join(parts, ";")
}

// expand returns the original start times of the series that starts at
// start (the master's start) with rec, at most MaxOccurrences and not later
// than ExpansionHorizon after start. rec must be normalized. The series
// begins on the range's startDate at the master's time of day in the
// recurrenceTimeZone; its first occurrence is the first day from there
// that the pattern matches.
func expand(start time.Time, rec *PatternedRecurrence) []time.Time {
	loc, _ := recurrenceLocation(rec.Range.RecurrenceTimeZone)
	local := start.In(loc)
	first, _ := time.ParseInLocation(time.DateOnly, rec.Range.StartDate, loc)
	horizon := start.Add(ExpansionHorizon)
	if first.After(horizon) {
		return nil
	}
	h, mi, sec := local.Clock()
	dtstart := time.Date(first.Year(), first.Month(), first.Day(), h, mi, sec, local.Nanosecond(), loc)
	set, err := recur.Parse(provider.EventTime{DateTime: dtstart, TimeZone: loc.String()}, []string{"RRULE:" + rec.rrule()})
	if err != nil {
		return nil // normalize let through only rules recur reads
	}
	var out []time.Time
	for _, t := range set.Starts(first, horizon.Add(time.Nanosecond)) {
		if len(out) == MaxOccurrences {
			break
		}
		out = append(out, t.UTC())
	}
	return out
}
