package retry

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// ParseRetryAfter parses a Retry-After header value (RFC 9110 10.2.3) as
// seen at now: delay-seconds, fractional seconds as Microsoft Graph sends
// them ("2.128", exact to the nanosecond, no float rounding), or an
// HTTP-date (all three formats http.ParseTime accepts). A date in the past
// is a zero delay. It reports false for an empty, negative or unparsable
// value. Huge values saturate instead of overflowing; callers cap them
// ([Policy].MaxRetryAfter).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, ok := parseSeconds(v); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if !t.After(now) {
			return 0, true
		}
		return t.Sub(now), true
	}
	return 0, false
}

// parseSeconds parses DIGIT+ [ "." DIGIT+ ] as seconds.
func parseSeconds(v string) (time.Duration, bool) {
	whole, frac, dot := strings.Cut(v, ".")
	if whole == "" || (dot && frac == "") {
		return 0, false
	}
	const maxSeconds = math.MaxInt64 / int64(time.Second)
	var secs int64
	saturated := false
	for _, c := range []byte(whole) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if secs > maxSeconds {
			saturated = true
			continue
		}
		secs = secs*10 + int64(c-'0')
	}
	var nanos int64
	scale := int64(time.Second)
	for _, c := range []byte(frac) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if scale /= 10; scale > 0 {
			nanos += int64(c-'0') * scale
		}
	}
	if saturated || secs > maxSeconds || secs*int64(time.Second) > math.MaxInt64-nanos {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(secs)*time.Second + time.Duration(nanos), true
}
