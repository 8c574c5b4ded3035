package msgraph

import (
	"strconv"
	"strings"
	"time"

	"github.com/calsync/calsync/provider"
)

// recurrence is Graph's patternedRecurrence
// (https://learn.microsoft.com/en-us/graph/api/resources/patternedrecurrence).
type recurrence struct {
	Pattern struct {
		Type           string   `json:"type"`
		Interval       int      `json:"interval"`
		Month          int      `json:"month"`
		DayOfMonth     int      `json:"dayOfMonth"`
		DaysOfWeek     []string `json:"daysOfWeek"`
		FirstDayOfWeek string   `json:"firstDayOfWeek"`
		Index          string   `json:"index"`
	} `json:"pattern"`
	Range struct {
		Type                string `json:"type"`
		StartDate           string `json:"startDate"`
		EndDate             string `json:"endDate"`
		NumberOfOccurrences int    `json:"numberOfOccurrences"`
		RecurrenceTimeZone  string `json:"recurrenceTimeZone"`
	} `json:"range"`
}

var (
	weekdays = map[string]string{"sunday": "SU", "monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR", "saturday": "SA"}
	setPos   = map[string]string{"first": "1", "second": "2", "third": "3", "fourth": "4", "last": "-1"}
)

// rrule renders the pattern as one RFC 5545 RRULE line, or nil for a
// pattern it cannot express (Raw keeps Graph's form). start is the series
// master's start, the rule's DTSTART. The mapping
// (https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern,
// https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange):
//
//	daily            FREQ=DAILY
//	weekly           FREQ=WEEKLY;BYDAY=<daysOfWeek>;WKST=<firstDayOfWeek, default SU>
//	absoluteMonthly  FREQ=MONTHLY;BYMONTHDAY=<dayOfMonth>
//	relativeMonthly  FREQ=MONTHLY;BYDAY=<daysOfWeek>;BYSETPOS=<index>
//	absoluteYearly   FREQ=YEARLY;BYMONTH=<month>;BYMONTHDAY=<dayOfMonth>
//	relativeYearly   FREQ=YEARLY;BYMONTH=<month>;BYDAY=<daysOfWeek>;BYSETPOS=<index>
//	interval n > 1   INTERVAL=n
//	numbered         COUNT=<numberOfOccurrences>
//	endDate          UNTIL=<the end of endDate>
//	noEnd            (nothing)
//
// index first..fourth is BYSETPOS 1..4 and last is -1 (default first): with
// several daysOfWeek Graph counts the days that match any of them, as
// BYSETPOS does. A dayOfMonth past 28 falls on the last day of shorter
// months in Outlook ("Outlook and CDO generate recurrences on February 28
// for years other than leap years",
// https://learn.microsoft.com/en-us/previous-versions/exchange-server/exchange-10/ms528295(v=exchg.10)),
// where BYMONTHDAY alone would skip them: it becomes the last of the days
// 28..dayOfMonth that the month has, BYMONTHDAY=28,...,n;BYSETPOS=-1.
//
// endDate is inclusive. For an all-day series UNTIL is that date. For a
// timed one it is the end of that day in range.recurrenceTimeZone when Go
// knows the zone; otherwise (Outlook writes Windows zone names, "Pacific
// Standard Time") it is 12 hours after the time the occurrence on endDate
// starts if the series keeps start's time of day from range.startDate on:
// every occurrence on endDate starts before it, whatever the zone and its
// daylight-saving shifts, and none of the next day does.
func (r *recurrence) rrule(start provider.EventTime) []string {
	p := r.Pattern
	var by []string
	days := func() bool {
		var ds []string
		for _, d := range p.DaysOfWeek {
			dd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				return false
			}
			ds = append(ds, dd)
		}
		if len(ds) > 0 {
			by = append(by, "BYDAY="+strings.Join(ds, ","))
		}
		return true
	}
	relative := func() bool {
		pos, ok := setPos[strings.ToLower(p.Index)]
		if p.Index == "" {
			pos, ok = "1", true
		}
		if !ok || len(p.DaysOfWeek) == 0 || !days() {
			return false
		}
		by = append(by, "BYSETPOS="+pos)
		return true
	}
	monthDay := func() bool {
		switch {
		case p.DayOfMonth < 1 || p.DayOfMonth > 31:
			return false
		case p.DayOfMonth <= 28:
			by = append(by, "BYMONTHDAY="+strconv.Itoa(p.DayOfMonth))
		default:
			ds := []string{"28"}
			for d := 29; d <= p.DayOfMonth; d++ {
				ds = append(ds, strconv.Itoa(d))
			}
			by = append(by, "BYMONTHDAY="+strings.Join(ds, ","), "BYSETPOS=-1")
		}
		return true
	}
	month := func() bool {
		if p.Month < 1 || p.Month > 12 {
			return false
		}
		by = append(by, "BYMONTH="+strconv.Itoa(p.Month))
		return true
	}
	var freq string
	ok := true
	switch strings.ToLower(p.Type) {
	case "daily":
		freq = "DAILY"
	case "weekly":
		freq = "WEEKLY"
		ok = days()
		wkst, known := weekdays[strings.ToLower(p.FirstDayOfWeek)]
		if p.FirstDayOfWeek == "" {
			wkst, known = "SU", true // Graph's default
		}
		ok = ok && known
		by = append(by, "WKST="+wkst)
	case "absolutemonthly":
		freq = "MONTHLY"
		ok = monthDay()
	case "relativemonthly":
		freq = "MONTHLY"
		ok = relative()
	case "absoluteyearly":
		freq = "YEARLY"
		ok = month() && monthDay()
	case "relativeyearly":
		freq = "YEARLY"
		ok = month() && relative()
	default:
		ok = false
	}
	if !ok {
		return nil
	}
	parts := []string{"FREQ=" + freq}
	if p.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(p.Interval))
	}
	switch strings.ToLower(r.Range.Type) {
	case "enddate":
		until, ok := r.until(start)
		if !ok {
			return nil
		}
		parts = append(parts, "UNTIL="+until)
	case "numbered":
		if r.Range.NumberOfOccurrences < 1 {
			return nil
		}
		parts = append(parts, "COUNT="+strconv.Itoa(r.Range.NumberOfOccurrences))
	case "noend", "":
	default:
		return nil
	}
	return []string{"RRULE:" + strings.Join(append(parts, by...), ";")}
}

// until renders the UNTIL of an endDate range (see rrule).
func (r *recurrence) until(start provider.EventTime) (string, bool) {
	end, err := time.Parse(time.DateOnly, r.Range.EndDate)
	if err != nil {
		return "", false
	}
	if start.AllDay() {
		return end.Format("20060102"), true
	}
	const utc = "20060102T150405Z"
	if tz := r.Range.RecurrenceTimeZone; tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return time.Date(end.Year(), end.Month(), end.Day(), 23, 59, 59, 0, loc).UTC().Format(utc), true
		}
	}
	if start.DateTime.IsZero() {
		return end.Format("20060102") + "T235959Z", true
	}
	first, err := time.Parse(time.DateOnly, r.Range.StartDate)
	if err != nil {
		s := start.DateTime.UTC()
		first = time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
	}
	n := int(end.Sub(first).Hours()/24 + 0.5)
	return start.DateTime.UTC().AddDate(0, 0, n).Add(12 * time.Hour).Format(utc), true
}
