package retry_test

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
)

var raNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"2.128", 2128 * time.Millisecond, true}, // Graph's own throttling sample
		{"0.5", 500 * time.Millisecond, true},
		{"1.0000000019", time.Second + 1, true}, // beyond nanoseconds: truncated
		{" 7 ", 7 * time.Second, true},
		{"99999999999999999999999", time.Duration(math.MaxInt64), true},
		{"9223372036.854775808", time.Duration(math.MaxInt64), true},
		{"-1", 0, false},
		{"-0.5", 0, false},
		{"+5", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"1.2.3", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 00:00:10 GMT", 10 * time.Second, true}, // IMF-fixdate
		{"Thursday, 01-Jan-26 00:01:00 GMT", time.Minute, true},   // RFC 850
		{"Thu Jan  1 00:00:30 2026", 30 * time.Second, true},      // ANSI C asctime
		{"Wed, 31 Dec 2025 23:59:00 GMT", 0, true},                // in the past: retry now
		{"Thu, 01 Jan 2026 00:00:10 +0100", 0, false},             // not an HTTP-date
	} {
		got, ok := retry.ParseRetryAfter(tc.in, raNow)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "2.128", "120", "-1", "1e3", "Thu, 01 Jan 2026 00:00:10 GMT",
		"Thursday, 01-Jan-26 00:01:00 GMT", "Thu Jan  1 00:00:30 2026", "99999999999999999999.9", "1..2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := retry.ParseRetryAfter(s, raNow)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v < 0", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v without ok", s, d)
		}
		if n, err := strconv.ParseUint(s, 10, 32); err == nil {
			if want := time.Duration(n) * time.Second; d != want || !ok {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v", s, d, ok, want)
			}
		}
		if tm, err := http.ParseTime(s); err == nil && tm.After(raNow) && !ok {
			t.Fatalf("ParseRetryAfter(%q) rejected an HTTP-date", s)
		}
		if d2, ok2 := retry.ParseRetryAfter(s, raNow); d2 != d || ok2 != ok {
			t.Fatalf("ParseRetryAfter(%q) is not deterministic", s)
		}
	})
}
