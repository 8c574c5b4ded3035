package retry_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
)

func TestPolicyDefaults(t *testing.T) {
	p := retry.Policy{}.WithDefaults()
	if p.MaxRetries != 5 || p.Initial != time.Second || p.Multiplier != 2 || p.Jitter != 0.3 ||
		p.MaxDelay != time.Minute || p.MaxRetryAfter != 5*time.Minute || p.Clock != retry.SystemClock || p.Rand == nil {
		t.Fatalf("defaults = %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if q := p.WithDefaults(); q.MaxRetries != p.MaxRetries || q.Jitter != p.Jitter {
		t.Fatal("WithDefaults is not idempotent")
	}
	off := retry.Policy{MaxRetries: retry.NoRetries, Jitter: retry.NoJitter}.WithDefaults()
	if off.MaxRetries != retry.NoRetries || off.Jitter != retry.NoJitter {
		t.Fatalf("NoRetries/NoJitter replaced by defaults: %+v", off)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    retry.Policy
		want string
	}{
		{"negative retries", retry.Policy{MaxRetries: -2}, "MaxRetries"},
		{"negative initial", retry.Policy{Initial: -time.Second}, "Initial"},
		{"shrinking", retry.Policy{Multiplier: 0.5}, "Multiplier"},
		{"jitter above 1", retry.Policy{Jitter: 1.5}, "Jitter"},
		{"jitter negative", retry.Policy{Jitter: -0.5}, "Jitter"},
		{"max below initial", retry.Policy{Initial: time.Minute, MaxDelay: time.Second}, "MaxDelay"},
		{"negative retry-after cap", retry.Policy{MaxRetryAfter: -1}, "MaxRetryAfter"},
	} {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "retry: ") {
			t.Errorf("%s: Validate() = %v, want an error about %s", tc.name, err, tc.want)
		}
	}
}

func TestBackOffSchedule(t *testing.T) {
	b := retry.Policy{Jitter: retry.NoJitter}.NewBackOff()
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, retry.Stop}
	for i, w := range want {
		if got := b.NextBackOff(); got != w {
			t.Fatalf("wait %d = %v, want %v", i+1, got, w)
		}
	}
	b.Reset()
	if got := b.NextBackOff(); got != time.Second {
		t.Fatalf("after Reset: %v", got)
	}

	capped := retry.Policy{Initial: 10 * time.Second, Multiplier: 10, MaxDelay: time.Minute, Jitter: retry.NoJitter, MaxRetries: 4}.NewBackOff()
	for i, w := range []time.Duration{10 * time.Second, time.Minute, time.Minute, time.Minute, retry.Stop} {
		if got := capped.NextBackOff(); got != w {
			t.Fatalf("capped wait %d = %v, want %v", i+1, got, w)
		}
	}
	if got := (retry.Policy{MaxRetries: retry.NoRetries}).NewBackOff().NextBackOff(); got != retry.Stop {
		t.Fatalf("NoRetries: first wait %v, want Stop", got)
	}
}

// TestJitterBounds is a property test: over many seeds every wait lies in
// [base, base×1.3), and the jitter really spreads over that range.
func TestJitterBounds(t *testing.T) {
	bases := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	lowSeen, highSeen := false, false
	for seed := uint64(0); seed < 2000; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		b := retry.Policy{Rand: rng.Float64}.NewBackOff()
		for i, base := range bases {
			got := b.NextBackOff()
			hi := base + base*3/10
			if got < base || got >= hi {
				t.Fatalf("seed %d wait %d = %v, want in [%v, %v)", seed, i+1, got, base, hi)
			}
			frac := float64(got-base) / float64(base)
			lowSeen = lowSeen || frac < 0.03
			highSeen = highSeen || frac > 0.27
		}
		if b.NextBackOff() != retry.Stop {
			t.Fatalf("seed %d: more than 5 retries", seed)
		}
	}
	if !lowSeen || !highSeen {
		t.Fatalf("jitter does not cover 0..30%%: low %v high %v", lowSeen, highSeen)
	}
}
