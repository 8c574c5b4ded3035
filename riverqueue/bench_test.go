package riverqueue_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/riverqueue"
	"github.com/calsync/calsync/webhook"
)

// The webhook ack path with the River queue (authenticate, then insert
// the job in PostgreSQL before answering) against a bare net/http handler
// writing 200, in the same run; see BENCHMARKS.md for the command and the
// ratios. Nothing here asserts a duration.

const benchSecret = "bench-channel-token"

// anySink authenticates any channel "chan-N" as calendar "cal-N", so that
// every request queues a sync of a calendar with no job waiting (a real
// insert, not a fold), and enqueues into q.
type anySink struct{ q calsync.Queue }

func (s anySink) Subscription(_ context.Context, id string) (calsync.Subscription, error) {
	cal, ok := strings.CutPrefix(id, "chan-")
	if !ok {
		return calsync.Subscription{}, calsync.ErrNotFound
	}
	return calsync.Subscription{ID: id, CalendarID: "cal-" + cal, Provider: "google",
		SecretHash: provider.HashSecret(benchSecret), ResourceID: "res-1", Expiration: time.Now().Add(time.Hour)}, nil
}

func (s anySink) Enqueue(ctx context.Context, n calsync.Notification) error {
	if n.Received.IsZero() {
		n.Received = time.Now()
	}
	err := s.q.Enqueue(ctx, n)
	if err == calsync.ErrAlreadyQueued {
		return nil
	}
	return err
}

func BenchmarkWebhookAck(b *testing.B) {
	bare := func(b *testing.B) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	river := func(b *testing.B) http.Handler {
		r := newRig(b, nil)
		h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: anySink{r.queue}})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	async := func(b *testing.B) http.Handler {
		r := newRig(b, nil)
		q, err := riverqueue.New(context.Background(), r.pool, &riverqueue.Config{Schema: r.schema, AsyncCommit: true})
		if err != nil {
			b.Fatal(err)
		}
		h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: anySink{q}})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	memory := func(b *testing.B) http.Handler {
		q := calsync.NewMemoryQueue(1 << 30)
		h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: anySink{q}})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	for _, handler := range []struct {
		name string
		make func(*testing.B) http.Handler
	}{{"bare", bare}, {"memory", memory}, {"river", river}, {"river-async", async}} {
		// loopback: one keep-alive client, one request at a time.
		b.Run("loopback/"+handler.name, func(b *testing.B) {
			srv := httptest.NewServer(handler.make(b))
			defer srv.Close()
			var seq atomic.Int64
			b.ReportAllocs()
			for b.Loop() {
				ackRoundTrip(b, srv, seq.Add(1))
			}
			reportRate(b)
		})
		// loopback-parallel: 16 keep-alive clients at once, as a provider
		// delivering a burst would.
		b.Run("loopback-parallel/"+handler.name, func(b *testing.B) {
			srv := httptest.NewServer(handler.make(b))
			defer srv.Close()
			srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			var seq atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ackRoundTrip(b, srv, seq.Add(1))
				}
			})
			reportRate(b)
		})
	}
}

func ackRoundTrip(b *testing.B, srv *httptest.Server, n int64) {
	r, err := http.NewRequest("POST", srv.URL+"/hooks/google", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, kv := range [][2]string{
		{"X-Goog-Channel-ID", fmt.Sprintf("chan-%d", n)},
		{"X-Goog-Channel-Token", benchSecret},
		{"X-Goog-Resource-ID", "res-1"},
		{"X-Goog-Resource-URI", "https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json"},
		{"X-Goog-Resource-State", "exists"},
		{"X-Goog-Message-Number", "100"},
	} {
		r.Header.Set(kv[0], kv[1])
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "req/s")
	}
}
