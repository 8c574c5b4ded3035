package recur

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/calsync/calsync/provider"
)

// ErrInvalid is wrapped by the errors of [Parse] for a start or a line it
// cannot read.
var ErrInvalid = errors.New("recur: invalid recurrence")

// Set is a parsed recurrence set: a series' start (DTSTART) and its RRULE,
// EXRULE, RDATE and EXDATE lines. It is immutable and safe for concurrent
// use.
type Set struct {
	allDay bool
	loc    *time.Location // the zone of the wall clock; UTC when allDay
	start  time.Time      // DTSTART, floating, to the second
	rules  []*rule        // RRULE lines
	ex     []*rule        // EXRULE lines
	rdates []time.Time    // floating, sorted
	// exdates are floating times (all-day sets: dates) excluded exactly;
	// exdays are dates whose occurrences are excluded whatever their time
	// (EXDATE;VALUE=DATE on a timed series).
	exdates []time.Time
	exdays  []time.Time
	// exInstants are EXDATEs given as instants (UTC or TZID) of a timed
	// set, compared as instants so that one in the repeated hour of a
	// DST change excludes the right occurrence.
	exInstants []time.Time
	// slow turns off restarting rules near the range (tests compare).
	slow bool
}

type rule struct {
	opt   rrule.ROption // defaults pinned, Dtstart floating
	rr    *rrule.RRule
	until time.Time // instant (timed sets) or floating date; zero if none
	// never is set for a rule no day can match (BYMONTH=2;BYMONTHDAY=30):
	// rrule-go would look for its first occurrence until the year 9999.
	never bool
}

// Parse reads the recurrence of a series that starts at start.
//
// A timed start is read in the IANA zone start.TimeZone (or, when that is
// empty, the location of start.DateTime), and every occurrence keeps its
// wall-clock time in that zone across DST changes. An all-day start
// (start.Date) makes an all-day set, whose occurrences are dates.
//
// lines are RFC 5545 content lines as Google returns them in an event's
// recurrence: RRULE, EXRULE, RDATE and EXDATE, with TZID and VALUE=DATE,
// DATE-TIME or PERIOD parameters (a PERIOD's start is the occurrence).
// Local times without TZID are in the series' zone. An UNTIL given as a
// date on a timed series includes that whole day in the series' zone; an
// UNTIL given as a date-time on an all-day series includes its UTC date.
// An EXDATE given as a date on a timed series removes the occurrences of
// that day. DTSTART is an occurrence only when the rules produce it (RFC
// 5545 leaves an unsynchronized DTSTART undefined; this is what
// python-dateutil and rrule-go do, and what the calsync emulators do),
// unless the set has no RRULE, when DTSTART and the RDATEs are the
// occurrences. Other lines (DTSTART, X- properties) are ignored.
//
// Errors wrap [ErrInvalid].
func Parse(start provider.EventTime, lines []string) (*Set, error) {
	s := &Set{allDay: start.AllDay(), loc: time.UTC}
	switch {
	case s.allDay:
		d, err := date(start.Date)
		if err != nil {
			return nil, fmt.Errorf("%w: start date %q", ErrInvalid, start.Date)
		}
		s.start = d
	case !start.DateTime.IsZero():
		s.loc = start.DateTime.Location()
		if start.TimeZone != "" {
			loc, err := loadZone(start.TimeZone)
			if err != nil {
				return nil, fmt.Errorf("%w: time zone %q", ErrInvalid, start.TimeZone)
			}
			s.loc = loc
		}
		s.start = floating(start.DateTime, s.loc).Truncate(time.Second)
	default:
		return nil, fmt.Errorf("%w: no start", ErrInvalid)
	}
	for _, line := range lines {
		if err := s.parseLine(line); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, line, err)
		}
	}
	slices.SortFunc(s.rdates, time.Time.Compare)
	s.rdates = slices.CompactFunc(s.rdates, time.Time.Equal)
	return s, nil
}

// loadZone loads an IANA zone; "UTC" and "Z" are UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "UTC" || name == "Z" || name == "Etc/UTC" {
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// AllDay reports whether the set's occurrences are dates.
func (s *Set) AllDay() bool { return s.allDay }

// Location is the zone whose wall clock the occurrences keep (UTC for an
// all-day set).
func (s *Set) Location() *time.Location { return s.loc }

func (s *Set) parseLine(line string) error {
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return errors.New("no value")
	}
	name, params, _ := strings.Cut(name, ";")
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "RRULE", "EXRULE":
		r, err := s.parseRule(value)
		if err != nil {
			return err
		}
		if strings.EqualFold(strings.TrimSpace(name), "RRULE") {
			s.rules = append(s.rules, r)
		} else {
			s.ex = append(s.ex, r)
		}
	case "RDATE", "EXDATE":
		return s.parseDates(strings.EqualFold(strings.TrimSpace(name), "RDATE"), params, value)
	}
	return nil
}

var weekdays = map[time.Weekday]rrule.Weekday{
	time.Monday: rrule.MO, time.Tuesday: rrule.TU, time.Wednesday: rrule.WE, time.Thursday: rrule.TH,
	time.Friday: rrule.FR, time.Saturday: rrule.SA, time.Sunday: rrule.SU,
}

// parseRule reads an RRULE or EXRULE value. UNTIL is taken out of the
// options (the expansion applies it to instants) and the defaults RFC 5545
// takes from DTSTART are written in, so that the rule can be restarted
// from a later DTSTART (see forward).
func (s *Set) parseRule(value string) (*rule, error) {
	var until string
	var parts []string
	for _, p := range strings.Split(strings.TrimSpace(value), ";") {
		if k, v, _ := strings.Cut(p, "="); strings.EqualFold(k, "UNTIL") {
			until = v
			continue
		}
		parts = append(parts, strings.ToUpper(p))
	}
	opt, err := rrule.StrToROptionInLocation(strings.Join(parts, ";"), time.UTC)
	if err != nil {
		return nil, err
	}
	if opt.Count > 0 && until != "" {
		return nil, errors.New("COUNT and UNTIL together")
	}
	r := &rule{}
	if until != "" {
		if r.until, err = s.parseUntil(until); err != nil {
			return nil, err
		}
		// The floating bound keeps every candidate; next compares the
		// instant with until. A day of slack covers any UTC offset.
		opt.Until = floating(r.until, s.loc).Add(26 * time.Hour)
		if s.allDay {
			opt.Until = r.until
		}
	}
	opt.Dtstart = s.start
	pinDefaults(opt)
	if r.rr, err = rrule.NewRRule(*opt); err != nil {
		return nil, err
	}
	r.opt = *opt
	r.never = never(opt)
	return r, nil
}

// never reports whether the rule can have no occurrence at all, in the
// cases where rrule-go would otherwise look for one until the year 9999:
// BYMONTHDAY days no month of the rule has (BYMONTH=2;BYMONTHDAY=30),
// BYSETPOS positions beyond the days and times a DAILY or WEEKLY period
// can hold, and a MONTHLY INTERVAL whose months never meet BYMONTH.
func never(opt *rrule.ROption) bool {
	months := opt.Bymonth
	if len(months) == 0 {
		months = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	if len(opt.Bymonthday) > 0 && len(opt.Byweekday) == 0 && len(opt.Byyearday) == 0 && len(opt.Byweekno) == 0 && len(opt.Byeaster) == 0 {
		fits := false
		for _, m := range months {
			days := time.Date(2000, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() // 2000 was a leap year
			for _, d := range opt.Bymonthday {
				fits = fits || (d != 0 && max(d, -d) <= days)
			}
		}
		if !fits {
			return true
		}
	}
	if len(opt.Bysetpos) > 0 && (opt.Freq == rrule.DAILY || opt.Freq == rrule.WEEKLY) {
		size := max(len(opt.Byhour), 1) * max(len(opt.Byminute), 1) * max(len(opt.Bysecond), 1)
		if opt.Freq == rrule.WEEKLY {
			days := 7
			if len(opt.Byweekday) > 0 {
				days = min(len(opt.Byweekday), 7)
			}
			size *= days
		}
		fits := false
		for _, p := range opt.Bysetpos {
			fits = fits || max(p, -p) <= size
		}
		if !fits {
			return true
		}
	}
	if opt.Freq == rrule.MONTHLY && len(opt.Bymonth) > 0 {
		iv := max(opt.Interval, 1)
		m0 := int(opt.Dtstart.Month()) - 1
		for k := range 12 {
			if slices.Contains(opt.Bymonth, (m0+k*iv)%12+1) {
				return false
			}
		}
		return true
	}
	return false
}

// parseUntil returns UNTIL as an instant (timed sets) or a floating date
// (all-day sets).
func (s *Set) parseUntil(v string) (time.Time, error) {
	v = strings.ToUpper(v)
	switch {
	case len(v) == 8:
		d, err := time.Parse("20060102", v)
		if err != nil {
			return time.Time{}, err
		}
		if s.allDay {
			return d, nil
		}
		// The whole day, in the series' zone.
		return resolve(d.AddDate(0, 0, 1), s.loc).Add(-time.Second), nil
	case strings.HasSuffix(v, "Z"):
		t, err := time.Parse("20060102T150405Z", v)
		if err != nil {
			return time.Time{}, err
		}
		if s.allDay {
			return t.Truncate(24 * time.Hour), nil
		}
		return t, nil
	default:
		t, err := time.Parse("20060102T150405", v)
		if err != nil {
			return time.Time{}, err
		}
		if s.allDay {
			return t.Truncate(24 * time.Hour), nil
		}
		return resolve(t, s.loc), nil
	}
}

// parseDates reads the values of an RDATE or EXDATE line.
func (s *Set) parseDates(add bool, params, value string) error {
	loc := s.loc
	isDate, zoned := false, false
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "TZID":
			l, err := loadZone(strings.Trim(v, `"`))
			if err != nil {
				return fmt.Errorf("TZID %q", v)
			}
			loc, zoned = l, true
		case "VALUE":
			isDate = strings.EqualFold(v, "DATE")
		}
	}
	for _, raw := range strings.Split(value, ",") {
		v := strings.ToUpper(strings.TrimSpace(raw))
		v, _, _ = strings.Cut(v, "/") // PERIOD: its start
		if v == "" {
			continue
		}
		if isDate || len(v) == 8 {
			d, err := time.Parse("20060102", v)
			if err != nil {
				return fmt.Errorf("date %q", v)
			}
			switch {
			case s.allDay && add:
				s.rdates = append(s.rdates, d)
			case s.allDay:
				s.exdates = append(s.exdates, d)
			case add: // that day at DTSTART's time
				h, m, sec := s.start.Clock()
				s.rdates = append(s.rdates, d.Add(time.Duration(h)*time.Hour+time.Duration(m)*time.Minute+time.Duration(sec)*time.Second))
			default:
				s.exdays = append(s.exdays, d)
			}
			continue
		}
		var inst time.Time
		var err error
		if strings.HasSuffix(v, "Z") {
			inst, err = time.Parse("20060102T150405Z", v)
		} else {
			var w time.Time
			w, err = time.Parse("20060102T150405", v)
			inst = resolve(w, loc)
		}
		if err != nil {
			return fmt.Errorf("date-time %q", v)
		}
		switch {
		case s.allDay:
			// Its date: in its TZID, else UTC.
			dl := time.UTC
			if zoned {
				dl = loc
			}
			d := floating(inst, dl).Truncate(24 * time.Hour)
			if add {
				s.rdates = append(s.rdates, d)
			} else {
				s.exdates = append(s.exdates, d)
			}
		case add:
			s.rdates = append(s.rdates, floating(inst, s.loc))
		default:
			s.exInstants = append(s.exInstants, inst)
		}
	}
	return nil
}

// pinDefaults writes into opt the parts RFC 5545 (and rrule-go) take from
// DTSTART when the rule leaves them out: the time of day, and the day of
// the week, month or year for WEEKLY, MONTHLY and YEARLY rules without
// BYxxx day parts.
func pinDefaults(opt *rrule.ROption) {
	d := opt.Dtstart
	if opt.Freq < rrule.HOURLY && len(opt.Byhour) == 0 {
		opt.Byhour = []int{d.Hour()}
	}
	if opt.Freq < rrule.MINUTELY && len(opt.Byminute) == 0 {
		opt.Byminute = []int{d.Minute()}
	}
	if opt.Freq < rrule.SECONDLY && len(opt.Bysecond) == 0 {
		opt.Bysecond = []int{d.Second()}
	}
	if len(opt.Byweekno) > 0 || len(opt.Byyearday) > 0 || len(opt.Bymonthday) > 0 || len(opt.Byweekday) > 0 || len(opt.Byeaster) > 0 {
		return
	}
	switch opt.Freq {
	case rrule.YEARLY:
		if len(opt.Bymonth) == 0 {
			opt.Bymonth = []int{int(d.Month())}
		}
		opt.Bymonthday = []int{d.Day()}
	case rrule.MONTHLY:
		opt.Bymonthday = []int{d.Day()}
	case rrule.WEEKLY:
		opt.Byweekday = []rrule.Weekday{weekdays[d.Weekday()]}
	}
}
