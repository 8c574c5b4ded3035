package httpdate

import (
	"testing"
	"time"
)

func TestRetryAfterRoundsUp(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{2 * time.Second, "Sun, 01 Mar 2026 11:00:02 GMT"},
		{1500 * time.Millisecond, "Sun, 01 Mar 2026 11:00:02 GMT"},
		{time.Nanosecond, "Sun, 01 Mar 2026 11:00:01 GMT"},
	} {
		if got := RetryAfter(now, tc.in); got != tc.want {
			t.Errorf("RetryAfter(now, %v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
