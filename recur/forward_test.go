package recur

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
)

// Restarting a rule near the range (forward) must not change what the
// range holds: random rules, compared with expanding from DTSTART.
func TestForwardIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"}
	days := []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
	pick := func(n int) string {
		var out []string
		for _, i := range rng.Perm(7)[:n] {
			out = append(out, days[i])
		}
		return strings.Join(out, ",")
	}
	for i := range 1500 {
		freq := []string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}[rng.IntN(4)]
		parts := []string{"FREQ=" + freq, fmt.Sprintf("INTERVAL=%d", 1+rng.IntN(4))}
		switch rng.IntN(6) {
		case 0:
			parts = append(parts, "BYDAY="+pick(1+rng.IntN(3)))
		case 1:
			parts = append(parts, fmt.Sprintf("BYMONTHDAY=%d", []int{1, 15, 29, 30, 31, -1}[rng.IntN(6)]))
		case 2:
			parts = append(parts, "BYDAY="+pick(1+rng.IntN(5)), fmt.Sprintf("BYSETPOS=%d", []int{1, 2, -1, -2}[rng.IntN(4)]))
		case 3:
			parts = append(parts, fmt.Sprintf("BYMONTH=%d,%d", 1+rng.IntN(12), 1+rng.IntN(12)))
		case 4:
			parts = append(parts, fmt.Sprintf("BYHOUR=%d,%d", rng.IntN(24), rng.IntN(24)))
		}
		if rng.IntN(3) == 0 {
			parts = append(parts, "WKST="+days[rng.IntN(7)])
		}
		if rng.IntN(3) == 0 {
			parts = append(parts, "UNTIL="+time.Date(2027+rng.IntN(3), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format("20060102T150405Z"))
		}
		lines := []string{"RRULE:" + strings.Join(parts, ";")}
		begin := time.Date(2020+rng.IntN(4), time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), 15*rng.IntN(4), 0, 0, time.UTC)
		var start provider.EventTime
		if rng.IntN(4) == 0 {
			start = provider.EventTime{Date: begin.Format(time.DateOnly)}
		} else {
			tz := zones[rng.IntN(len(zones))]
			loc, _ := time.LoadLocation(tz)
			start = provider.EventTime{DateTime: resolve(begin, loc), TimeZone: tz}
		}
		fast, err := Parse(start, lines)
		if err != nil {
			t.Fatalf("%v: %v", lines, err)
		}
		slow := *fast
		slow.slow = true
		from := time.Date(2024+rng.IntN(4), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC)
		to := from.Add(time.Duration(1+rng.IntN(90*24)) * time.Hour)
		got, want := fast.Starts(from, to), slow.Starts(from, to)
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("case %d: %v from %v, [%v, %v):\n fast %v\n slow %v", i, lines, start, from, to, got, want)
		}
		l1, ok1 := fast.Last()
		l2, ok2 := slow.lastSlow()
		if ok1 != ok2 || !l1.Equal(l2) {
			t.Fatalf("case %d: %v from %v: Last %v %v, from DTSTART %v %v", i, lines, start, l1, ok1, l2, ok2)
		}
	}
}

// lastSlow is Last by expanding from DTSTART.
func (s *Set) lastSlow() (time.Time, bool) {
	for _, r := range s.rules {
		if !r.never && r.opt.Count == 0 && r.until.IsZero() {
			return time.Time{}, false
		}
	}
	all := s.Starts(s.start.Add(-48*time.Hour), time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(all) == 0 {
		if s.allDay {
			return s.start, true
		}
		return resolve(s.start, s.loc), true
	}
	return all[len(all)-1], true
}
