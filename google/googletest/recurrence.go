package googletest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/recur"
)

// recurrence is an event's recurrence lines, expanded by package recur
// (RFC 5545: RRULE with any FREQ and BYxxx part, EXRULE, RDATE, EXDATE),
// as Google accepts them.
type recurrence struct {
	lines []string
}

// parseRecurrence checks the lines: RRULE, EXRULE, RDATE and EXDATE only,
// at least one RRULE or RDATE, each readable by recur.
func parseRecurrence(lines []string) (*recurrence, error) {
	adds := false
	for _, line := range lines {
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %q has no value", line)
		}
		name, _, _ = strings.Cut(name, ";")
		switch strings.ToUpper(name) {
		case "RRULE", "RDATE":
			adds = true
		case "EXRULE", "EXDATE":
		default:
			return nil, fmt.Errorf("%s is not a recurrence line", name)
		}
	}
	if !adds {
		return nil, errors.New("an RRULE or RDATE is required")
	}
	// The start does not change what is valid; expand reads the lines
	// again against the event's.
	if _, err := recur.Parse(provider.EventTime{Date: "2000-01-01"}, lines); err != nil {
		return nil, err
	}
	return &recurrence{lines: lines}, nil
}

// occurrence is one expanded start: an instant for timed events, a date
// (midnight UTC) for all-day events.
type occurrence struct {
	start time.Time
}

// expand lists the occurrences of rec for an event starting at start, up
// to horizon and at most MaxInstances; bounded reports whether the rule
// ended by itself (COUNT, UNTIL) rather than by a cap.
func (rec *recurrence) expand(start when, horizon time.Time) (occs []occurrence, bounded bool) {
	st := provider.EventTime{DateTime: start.t.In(start.loc), TimeZone: start.tzName}
	if start.allDay {
		st = provider.EventTime{Date: start.t.Format(dateLayout)}
	}
	set, err := recur.Parse(st, rec.lines)
	if err != nil {
		return nil, true
	}
	from := start.t.AddDate(-100, 0, 0)
	for _, t := range set.Starts(from, horizon.Add(time.Nanosecond)) {
		if len(occs) == MaxInstances {
			return occs, false
		}
		occs = append(occs, occurrence{start: t})
	}
	last, ok := set.Last()
	return occs, ok && !last.After(horizon)
}
