package alert

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func cfg() Config {
	return Config{Window: 10 * time.Minute, Buckets: 10, FailureRate: 0.10, MinSamples: 20, P95: 10 * time.Second, DeadLetters: 1, VolumeDrop: 0.5}
}

func kinds(fs []Finding) map[Kind]Finding {
	m := map[Kind]Finding{}
	for _, f := range fs {
		m[f.Kind] = f
	}
	return m
}

func TestFailureRate(t *testing.T) {
	m := New(cfg())
	for i := range 100 {
		m.Processed(t0.Add(time.Duration(i)*time.Second), i%10 == 0, time.Second) // exactly 10 %
	}
	if f := kinds(m.Check(t0.Add(100 * time.Second))); len(f) != 0 {
		t.Fatalf("10 %% failures alerted: %+v", f)
	}
	m.Processed(t0.Add(101*time.Second), true, time.Second)
	f := kinds(m.Check(t0.Add(102 * time.Second)))
	if _, ok := f[FailureRate]; !ok {
		t.Fatalf("11/101 failures did not alert: %+v", f)
	}
	// Once per window.
	m.Processed(t0.Add(103*time.Second), true, time.Second)
	if f := kinds(m.Check(t0.Add(104 * time.Second))); f[FailureRate].Kind != "" {
		t.Errorf("alerted twice in one window")
	}
	// The failures age out of the window.
	for i := range 50 {
		m.Processed(t0.Add(20*time.Minute+time.Duration(i)*time.Second), false, time.Second)
	}
	if f := kinds(m.Check(t0.Add(21 * time.Minute))); f[FailureRate].Kind != "" {
		t.Errorf("old failures still counted: %+v", f)
	}
}

func TestMinSamples(t *testing.T) {
	m := New(cfg())
	for i := range 19 {
		m.Processed(t0.Add(time.Duration(i)*time.Second), true, time.Minute)
	}
	if f := m.Check(t0.Add(time.Minute)); len(f) != 0 {
		t.Fatalf("alerted on %d samples: %+v", 19, f)
	}
}

func TestLatencyP95(t *testing.T) {
	m := New(cfg())
	for i := range 100 {
		d := time.Second
		if i >= 95 {
			d = time.Minute
		}
		m.Processed(t0.Add(time.Duration(i)*time.Second), false, d)
	}
	if f := kinds(m.Check(t0.Add(2 * time.Minute))); f[LatencyP95].Kind != "" {
		t.Fatalf("P95 of 1 s alerted: %+v", f)
	}
	m.Processed(t0.Add(101*time.Second), false, time.Minute)
	f := kinds(m.Check(t0.Add(2 * time.Minute)))
	if f[LatencyP95].Value != 60 {
		t.Fatalf("P95 with 6 %% slow = %+v, want 60 s", f)
	}
}

func TestDeadLettersAndVolumeDrop(t *testing.T) {
	m := New(cfg())
	for i := range 40 {
		m.Received(t0.Add(time.Duration(i) * 10 * time.Second))
	}
	if f := m.Check(t0.Add(9 * time.Minute)); len(f) != 0 {
		t.Fatalf("unexpected %+v", f)
	}
	// Next window: only 5 notifications.
	for i := range 5 {
		m.Received(t0.Add(10*time.Minute + time.Duration(i)*time.Minute))
	}
	m.DeadLettered(t0.Add(15 * time.Minute))
	f := kinds(m.Check(t0.Add(19*time.Minute + 30*time.Second)))
	if f[VolumeDrop].Kind == "" || f[DeadLetters].Value != 1 {
		t.Fatalf("findings = %+v, want volume drop and a dead letter", f)
	}
}

func TestP95(t *testing.T) {
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3}, 3},
		{[]time.Duration{5, 1, 4, 2, 3}, 5},
	} {
		if got := P95(tc.in); got != tc.want {
			t.Errorf("P95(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100 - i)
	}
	if got := P95(ds); got != 95 {
		t.Errorf("P95(1..100) = %v, want 95", got)
	}
}

// BenchmarkCheckFullWindow measures Check on a window holding the most
// latency samples it keeps (10 buckets × 1024): the Engine runs it after
// processing notifications.
func BenchmarkCheckFullWindow(b *testing.B) {
	m := New(cfg())
	for i := range 20000 {
		m.Processed(t0.Add(time.Duration(i)*30*time.Millisecond), false, time.Duration(i%5000)*time.Millisecond)
	}
	now := t0.Add(9 * time.Minute)
	for b.Loop() {
		m.Check(now)
	}
}
