package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/webhook"
)

// The webhook ack path (authenticate + enqueue) against a bare net/http
// handler writing 200, measured the same ways in the same run; see
// BENCHMARKS.md for the command and the ratios. Nothing here asserts a
// duration.

// queueSink is a Sink whose Enqueue goes into a calsync.MemoryQueue, as the
// Engine's does.
type queueSink struct {
	subs  map[string]calsync.Subscription
	queue *calsync.MemoryQueue
}

func (s *queueSink) Subscription(_ context.Context, id string) (calsync.Subscription, error) {
	sub, ok := s.subs[id]
	if !ok {
		return calsync.Subscription{}, calsync.ErrNotFound
	}
	return sub, nil
}

func (s *queueSink) Enqueue(ctx context.Context, n calsync.Notification) error {
	return s.queue.Enqueue(ctx, n)
}

// ackHandler returns the Google handler over a queue-backed sink, and the
// queue.
func ackHandler(b *testing.B) (http.Handler, *calsync.MemoryQueue) {
	q := calsync.NewMemoryQueue(0)
	sink := &queueSink{
		subs: map[string]calsync.Subscription{"chan-1": {
			ID: "chan-1", CalendarID: "cal-1", Provider: "google", SecretHash: provider.HashSecret(secret),
			ResourceID: "res-1", Expiration: time.Now().Add(time.Hour),
		}},
		queue: q,
	}
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	return h, q
}

// bareHandler is the baseline: a net/http handler that writes 200.
func bareHandler(b *testing.B) (http.Handler, *calsync.MemoryQueue) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}), nil
}

// drain takes the notification the last request queued, failing if there
// is none so that the benchmark cannot silently measure a rejecting
// handler. A nil queue (the bare handler) has nothing to drain.
func drain(b *testing.B, q *calsync.MemoryQueue) {
	if q == nil {
		return
	}
	if q.Len() == 0 {
		b.Fatal("nothing queued")
	}
	if _, err := q.Dequeue(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// notification builds an exists notification on chan-1 for url.
func notification(b *testing.B, url string) *http.Request {
	r, err := http.NewRequest("POST", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, kv := range valid("exists", "100566") {
		r.Header.Set(kv[0], kv[1])
	}
	r.Header.Set("User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)")
	return r
}

func BenchmarkGoogleAck(b *testing.B) { benchAll(b, ackHandler) }

func BenchmarkBareHandler(b *testing.B) { benchAll(b, bareHandler) }

func benchAll(b *testing.B, newHandler func(*testing.B) (http.Handler, *calsync.MemoryQueue)) {
	// recorder: the handler alone, called with a pre-built request.
	b.Run("recorder", func(b *testing.B) {
		h, q := newHandler(b)
		r := notification(b, "http://calsync.example/hooks/google")
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
			drain(b, q)
		}
		reportRate(b)
	})
	// loopback: a real server and one keep-alive client, one request at a
	// time.
	b.Run("loopback", func(b *testing.B) {
		h, q := newHandler(b)
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		r := notification(b, srv.URL+"/hooks/google")
		b.ReportAllocs()
		for b.Loop() {
			roundTrip(b, client, r)
			drain(b, q)
		}
		reportRate(b)
	})
	// loopback-parallel: GOMAXPROCS keep-alive clients at once, and a
	// worker goroutine draining the queue as the Engine's would.
	b.Run("loopback-parallel", func(b *testing.B) {
		h, q := newHandler(b)
		if q != nil {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for {
					if _, err := q.Dequeue(ctx); err != nil {
						return
					}
				}
			}()
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := notification(b, srv.URL+"/hooks/google")
			for pb.Next() {
				roundTrip(b, client, r)
			}
		})
		reportRate(b)
	})
}

func roundTrip(b *testing.B, client *http.Client, r *http.Request) {
	resp, err := client.Do(r)
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
