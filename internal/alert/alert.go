// Package alert keeps the sliding-window statistics behind the Engine's
// alert hooks: processing failure rate, P95 processing latency, dead-letter
// growth and notification volume. It is pure bookkeeping over an injected
// clock; the Engine decides what to do with what it reports.
package alert

import (
	"slices"
	"sync"
	"time"
)

// Config sets the thresholds. Zero fields are not defaulted here; the
// Engine fills them.
type Config struct {
	// Window is the length of the sliding window.
	Window time.Duration
	// Buckets is how many buckets the window is divided into.
	Buckets int
	// FailureRate alerts when failed/processed in the window exceeds it.
	FailureRate float64
	// MinSamples is the number of processed notifications a window needs
	// before rates and percentiles mean anything.
	MinSamples int
	// P95 alerts when the 95th percentile of processing latency exceeds it.
	P95 time.Duration
	// DeadLetters alerts when this many dead letters were added in a window.
	DeadLetters int
	// VolumeDrop alerts when the notifications received in the last window
	// are fewer than this fraction of those received in the window before
	// (which must have had at least MinSamples).
	VolumeDrop float64
	// MaxLatencySamples caps the latencies kept per bucket (memory bound).
	MaxLatencySamples int
}

// Kind names what an alert is about.
type Kind string

// The alert kinds the Monitor raises.
const (
	FailureRate Kind = "failure_rate"
	LatencyP95  Kind = "latency_p95"
	DeadLetters Kind = "dead_letters"
	VolumeDrop  Kind = "volume_drop"
)

// Finding is one threshold crossed.
type Finding struct {
	Kind      Kind
	Value     float64
	Threshold float64
}

type bucket struct {
	start                       time.Time
	received, processed, failed int
	deadLetters                 int
	latencies                   []time.Duration
}

// Monitor accumulates observations in time buckets. It is safe for
// concurrent use.
type Monitor struct {
	cfg Config
	mu  sync.Mutex
	// buckets covers two windows (the current one and the one before, for
	// the volume comparison), oldest first.
	buckets []bucket
	width   time.Duration
	// last firing per kind, so that one condition alerts once per window.
	fired map[Kind]time.Time
}

// New returns a Monitor for cfg.
func New(cfg Config) *Monitor {
	if cfg.Buckets <= 0 {
		cfg.Buckets = 10
	}
	if cfg.MaxLatencySamples <= 0 {
		cfg.MaxLatencySamples = 1024
	}
	return &Monitor{cfg: cfg, width: cfg.Window / time.Duration(cfg.Buckets), fired: make(map[Kind]time.Time)}
}

// at returns the bucket for t, rotating out buckets older than two windows.
// mu must be held.
func (m *Monitor) at(t time.Time) *bucket {
	start := t.Truncate(m.width)
	keep := start.Add(-2 * m.cfg.Window)
	i := 0
	for i < len(m.buckets) && !m.buckets[i].start.After(keep) {
		i++
	}
	m.buckets = m.buckets[i:]
	if n := len(m.buckets); n > 0 && m.buckets[n-1].start.Equal(start) {
		return &m.buckets[n-1]
	}
	if n := len(m.buckets); n > 0 && m.buckets[n-1].start.After(start) {
		// A late observation (clock skew between goroutines): count it in
		// the newest bucket rather than reorder.
		return &m.buckets[n-1]
	}
	m.buckets = append(m.buckets, bucket{start: start})
	return &m.buckets[len(m.buckets)-1]
}

// Received records a notification accepted at t.
func (m *Monitor) Received(t time.Time) {
	m.mu.Lock()
	m.at(t).received++
	m.mu.Unlock()
}

// Processed records a processed notification: its outcome and how long it
// took from arrival to the end of processing.
func (m *Monitor) Processed(t time.Time, failed bool, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.at(t)
	b.processed++
	if failed {
		b.failed++
	}
	if len(b.latencies) < m.cfg.MaxLatencySamples {
		b.latencies = append(b.latencies, latency)
	}
}

// DeadLettered records a notification moved to the dead letters at t.
func (m *Monitor) DeadLettered(t time.Time) {
	m.mu.Lock()
	m.at(t).deadLetters++
	m.mu.Unlock()
}

// Check evaluates the window ending at now and returns the thresholds
// crossed that have not already been reported within the last window.
func (m *Monitor) Check(now time.Time) []Finding {
	m.mu.Lock()
	m.at(now)
	curFrom := now.Add(-m.cfg.Window)
	prevFrom := curFrom.Add(-m.cfg.Window)
	cooling := func(k Kind) bool {
		last, ok := m.fired[k]
		return ok && now.Sub(last) < m.cfg.Window
	}
	// Latencies are copied only when a P95 alert could fire, and sorted
	// after the lock is released: Received, on the webhook ack path, takes
	// the same lock.
	wantLat := m.cfg.P95 > 0 && !cooling(LatencyP95)
	var cur, prev bucket
	var lat []time.Duration
	for _, b := range m.buckets {
		switch {
		case b.start.After(curFrom):
			cur.received += b.received
			cur.processed += b.processed
			cur.failed += b.failed
			cur.deadLetters += b.deadLetters
			if wantLat {
				lat = append(lat, b.latencies...)
			}
		case b.start.After(prevFrom):
			prev.received += b.received
		}
	}
	m.mu.Unlock()

	var found []Finding
	if cur.processed >= m.cfg.MinSamples && cur.processed > 0 {
		if rate := float64(cur.failed) / float64(cur.processed); m.cfg.FailureRate > 0 && rate > m.cfg.FailureRate {
			found = append(found, Finding{Kind: FailureRate, Value: rate, Threshold: m.cfg.FailureRate})
		}
		if p := P95(lat); wantLat && p > m.cfg.P95 {
			found = append(found, Finding{Kind: LatencyP95, Value: p.Seconds(), Threshold: m.cfg.P95.Seconds()})
		}
	}
	if m.cfg.DeadLetters > 0 && cur.deadLetters >= m.cfg.DeadLetters {
		found = append(found, Finding{Kind: DeadLetters, Value: float64(cur.deadLetters), Threshold: float64(m.cfg.DeadLetters)})
	}
	if m.cfg.VolumeDrop > 0 && prev.received >= m.cfg.MinSamples && prev.received > 0 {
		if ratio := float64(cur.received) / float64(prev.received); ratio < m.cfg.VolumeDrop {
			found = append(found, Finding{Kind: VolumeDrop, Value: ratio, Threshold: m.cfg.VolumeDrop})
		}
	}
	if len(found) == 0 {
		return nil
	}
	// Each condition fires once per window.
	m.mu.Lock()
	defer m.mu.Unlock()
	out := found[:0]
	for _, f := range found {
		if !cooling(f.Kind) {
			m.fired[f.Kind] = now
			out = append(out, f)
		}
	}
	return out
}

// P95 returns the 95th percentile (nearest rank) of ds; 0 for none. It
// sorts ds.
func P95(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := (95*len(ds) + 99) / 100 // ceil(0.95 n)
	return ds[rank-1]
}
