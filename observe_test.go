package calsync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// histogram returns the data points of the named float histogram.
func histogram(t *testing.T, rm metricdata.ResourceMetrics, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				h, ok := m.Data.(metricdata.Histogram[float64])
				if !ok {
					t.Fatalf("%s is a %T, not a float histogram", name, m.Data)
				}
				return h.DataPoints
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// Every duration histogram has explicit buckets, and a typical value falls
// in a middle bucket (not the first, not the overflow) that contains it.
func TestHistogramBuckets(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.put(ids("a", 3)...)
	// Each fetch takes 150 ms of the fake clock.
	p.beforeFetch = func(int, provider.Position) error { clock.Advance(150 * time.Millisecond); return nil }
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{Now: clock.Now,
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	connectFake(t, e)
	p.put("b1")
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m", Received: clock.Now().Add(-2 * time.Second)}
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want float64 // a value recorded
	}{
		{"calsync.sync.duration", 0.15},
		{"calsync.provider.call.duration", 0.15},
		{"calsync.notification.latency", 2.15},
		{"calsync.store.apply.duration", 0},
	} {
		points := histogram(t, rm, c.name)
		if c.name == "calsync.provider.call.duration" {
			// The fetches, not the Watch (which took no time).
			points = slices.DeleteFunc(points, func(p metricdata.HistogramDataPoint[float64]) bool {
				op, _ := p.Attributes.Value("operation")
				return op.AsString() != "fetch"
			})
		}
		if len(points) == 0 {
			t.Errorf("%s: no data point", c.name)
			continue
		}
		b := points[0].Bounds
		if len(b) < 10 || b[0] <= 0 || b[0] > 0.01 || b[len(b)-1] < 30 {
			t.Errorf("%s: bounds %v; want explicit ones from ms to minutes", c.name, b)
			continue
		}
		if c.want == 0 {
			continue // the fake clock stands still in Apply
		}
		at := -1
		for i, n := range points[0].BucketCounts {
			if n > 0 {
				at = i
				break
			}
		}
		if at <= 0 || at >= len(b) || !(b[at-1] < c.want && c.want <= b[at]) || b[at] > 3*b[at-1] {
			t.Errorf("%s: %v landed in bucket %d of bounds %v; want a narrow middle bucket containing it", c.name, c.want, at, b)
		}
	}
}

// spansByName returns the ended spans by name.
func spansByName(rec *tracetest.SpanRecorder) map[string][]sdktrace.ReadOnlySpan {
	out := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		out[s.Name()] = append(out[s.Name()], s)
	}
	return out
}

func attrOf(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// One sync makes a calsync.sync span whose children are its provider
// fetches and its Store.Apply calls; a failing sync records its error.
func TestSyncSpans(t *testing.T) {
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	p := newFakeProvider(2)
	p.put(ids("a", 5)...) // three pages
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{TracerProvider: tp})
	connectFake(t, e)
	byName := spansByName(rec)
	syncs := byName["calsync.sync"]
	if len(syncs) != 1 {
		t.Fatalf("%d sync spans, want 1 (spans: %v)", len(syncs), byName)
	}
	sync := syncs[0]
	want := map[string]attribute.Value{
		"calsync.calendar.id": attribute.StringValue(fakeCal.ID), "calsync.provider": attribute.StringValue("fake"),
		"calsync.sync.kind": attribute.StringValue("full"), "calsync.sync.pages": attribute.IntValue(3),
		"calsync.sync.changes": attribute.IntValue(5),
	}
	for k, v := range want {
		if got, ok := attrOf(sync, k); !ok || got != v {
			t.Errorf("sync span %s = %v, want %v", k, got.Emit(), v.Emit())
		}
	}
	if sync.Status().Code != codes.Ok {
		t.Errorf("sync span status %v", sync.Status())
	}
	for name, n := range map[string]int{"calsync.provider.fetch": 3, "calsync.store.apply": 3} {
		children := byName[name]
		if len(children) != n {
			t.Errorf("%d %s spans, want %d", len(children), name, n)
		}
		for _, c := range children {
			if c.Parent().SpanID() != sync.SpanContext().SpanID() || c.SpanContext().TraceID() != sync.SpanContext().TraceID() {
				t.Errorf("%s span is not a child of the sync span", name)
			}
		}
	}
	// Watch ran before the sync, not under it.
	if w := byName["calsync.provider.watch"]; len(w) != 1 || w[0].Parent().SpanID() == sync.SpanContext().SpanID() {
		t.Errorf("watch spans %v", w)
	}

	// A failing sync: the error is on the sync span and its fetch span.
	rec2 := tracetest.NewSpanRecorder()
	tp.RegisterSpanProcessor(rec2)
	boom := errors.New("provider says no")
	p.beforeFetch = func(int, provider.Position) error { return boom }
	if _, err := e.Sync(ctx, fakeCal.ID); !errors.Is(err, boom) {
		t.Fatalf("Sync = %v", err)
	}
	byName = spansByName(rec2)
	for _, name := range []string{"calsync.sync", "calsync.provider.fetch"} {
		spans := byName[name]
		if len(spans) != 1 {
			t.Fatalf("%d %s spans after the failure", len(spans), name)
		}
		s := spans[0]
		if s.Status().Code != codes.Error || len(s.Events()) == 0 || s.Events()[0].Name != "exception" {
			t.Errorf("%s span: status %v, events %v; want the error recorded", name, s.Status(), s.Events())
		}
	}
}
