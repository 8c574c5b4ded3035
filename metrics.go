package calsync

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// MeterName is the instrumentation scope name of calsync's metrics.
const MeterName = "github.com/calsync/calsync"

// The outcomes recorded on calsync.notifications.processed.
const (
	outcomeOK        = "ok"
	outcomeFailed    = "failed"
	outcomeDuplicate = "duplicate"
	outcomeCoalesced = "coalesced"
)

// instruments are the Engine's OpenTelemetry instruments. With no
// MeterProvider configured they are no-ops.
type instruments struct {
	received     metric.Int64Counter
	processed    metric.Int64Counter
	latency      metric.Float64Histogram
	syncDuration metric.Float64Histogram
	deadLetters  metric.Int64Counter
	alerts       metric.Int64Counter
}

func newInstruments(mp metric.MeterProvider) (*instruments, metric.Meter, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(MeterName)
	var (
		in  instruments
		err error
		e   error
	)
	in.received, e = m.Int64Counter("calsync.notifications.received", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications accepted by a webhook handler and queued."))
	err = firstErr(err, e)
	in.processed, e = m.Int64Counter("calsync.notifications.processed", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications processed, by outcome (ok, failed, duplicate, coalesced)."))
	err = firstErr(err, e)
	in.latency, e = m.Float64Histogram("calsync.notification.latency", metric.WithUnit("s"),
		metric.WithDescription("Time from a notification's arrival to the end of its processing."))
	err = firstErr(err, e)
	in.syncDuration, e = m.Float64Histogram("calsync.sync.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one sync of one calendar, by provider and kind (full or incremental)."))
	err = firstErr(err, e)
	in.deadLetters, e = m.Int64Counter("calsync.dead_letters", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications moved to the dead-letter store."))
	err = firstErr(err, e)
	in.alerts, e = m.Int64Counter("calsync.alerts", metric.WithUnit("{alert}"),
		metric.WithDescription("Alerts raised, by kind."))
	err = firstErr(err, e)
	return &in, m, err
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func providerAttr(name string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("provider", name))
}

// InstrumentTransport returns an http.RoundTripper that counts the calls it
// carries in the calsync.provider.calls counter, by provider and HTTP status
// ("error" when there was no response). Put it in a provider's
// Config.HTTPClient, under the retry transport to count every attempt or
// above it to count logical calls. A nil base means http.DefaultTransport; a
// nil mp means no metrics.
func InstrumentTransport(base http.RoundTripper, mp metric.MeterProvider, providerName string) (http.RoundTripper, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	calls, err := mp.Meter(MeterName).Int64Counter("calsync.provider.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Provider API calls, by provider and HTTP status."))
	if err != nil {
		return nil, err
	}
	return &countingTransport{base: base, calls: calls, provider: providerName}, nil
}

type countingTransport struct {
	base     http.RoundTripper
	calls    metric.Int64Counter
	provider string
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.calls.Add(r.Context(), 1, metric.WithAttributes(attribute.String("provider", t.provider), attribute.String("status", status)))
	return resp, err
}

// registerGauges registers the observable instruments: subscriptions by
// time to expiry, and the largest sync lag among the calendars this Engine
// has synced.
func (e *Engine) registerGauges(m metric.Meter) error {
	expiry, err := m.Int64ObservableGauge("calsync.subscriptions.expiring", metric.WithUnit("{subscription}"),
		metric.WithDescription("Subscriptions by time left before they expire (bucket: expired, 1h, 24h, 7d, later)."))
	if err != nil {
		return err
	}
	lag, err := m.Float64ObservableGauge("calsync.sync.lag", metric.WithUnit("s"),
		metric.WithDescription("Largest time since the last successful sync among the calendars this Engine syncs."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		now := e.cfg.Now()
		subs, err := e.cfg.Store.ExpiringSubscriptions(ctx, now.Add(366*24*time.Hour))
		if err != nil {
			return err
		}
		buckets := []struct {
			name   string
			before time.Duration
		}{{"expired", 0}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"later", 1 << 62}}
		counts := make([]int64, len(buckets))
		for _, s := range subs {
			left := s.Expiration.Sub(now)
			for i, b := range buckets {
				if left <= b.before {
					counts[i]++
					break
				}
			}
		}
		for i, b := range buckets {
			o.ObserveInt64(expiry, counts[i], metric.WithAttributes(attribute.String("bucket", b.name)))
		}
		var worst time.Duration
		e.mu.Lock()
		for _, h := range e.health {
			if !h.LastSuccess.IsZero() {
				worst = max(worst, now.Sub(h.LastSuccess))
			}
		}
		e.mu.Unlock()
		o.ObserveFloat64(lag, worst.Seconds())
		return nil
	}, expiry, lag)
	return err
}

func outcomeAttr(o string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("outcome", o))
}

func metricAttr(k, v string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String(k, v))
}
