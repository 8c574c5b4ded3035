package webhook_test

import (
	"bytes"
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

// The Graph ack path (parse the batch, look up, compare clientState,
// enqueue, 202) against a bare net/http handler answering the same POST
// with 202 without reading it, measured the same ways in the same run; see
// BENCHMARKS.md. Nothing here asserts a duration.

// graphPayload is one change notification for an event, shaped like
// Microsoft's Outlook notification sample (about 700 bytes, as Graph sends
// them).
var graphPayload = []byte(`{"value":[{"subscriptionId":"sub-1","subscriptionExpirationDateTime":"2026-12-01T03:12:18.2257768+00:00",` +
	`"changeType":"updated","resource":"Users/622eaaff-0683-4862-9de4-f2ec83c2bd98/Events/AAMkAGUwNjQ4ZjIxAAA=",` +
	`"resourceData":{"@odata.type":"#Microsoft.Graph.Event","@odata.id":"Users/622eaaff-0683-4862-9de4-f2ec83c2bd98/Events/AAMkAGUwNjQ4ZjIxAAA=",` +
	`"@odata.etag":"W/\"CQAAABYAAACQ2fKdhq8oSKEDSVrdi3lRAAGDUUXn\"","id":"AAMkAGUwNjQ4ZjIxAAA="},` +
	`"clientState":"` + secret + `","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"}]}`)

func graphAckHandler(b *testing.B) (http.Handler, *calsync.MemoryQueue) {
	q := calsync.NewMemoryQueue(0)
	sink := &queueSink{
		subs: map[string]calsync.Subscription{"sub-1": {
			ID: "sub-1", CalendarID: "cal-1", Provider: "msgraph", SecretHash: provider.HashSecret(secret), Expiration: time.Now().Add(time.Hour),
		}},
		queue: q,
	}
	h, err := webhook.NewGraph(webhook.GraphConfig{Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	return h, q
}

func graphBareHandler(b *testing.B) (http.Handler, *calsync.MemoryQueue) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}), nil
}

func BenchmarkGraphAck(b *testing.B) { benchGraph(b, graphAckHandler) }

func BenchmarkGraphBareHandler(b *testing.B) { benchGraph(b, graphBareHandler) }

func graphRequest(b *testing.B, url string) *http.Request {
	r, err := http.NewRequest("POST", url, bytes.NewReader(graphPayload))
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(graphPayload)), nil }
	return r
}

func benchGraph(b *testing.B, newHandler func(*testing.B) (http.Handler, *calsync.MemoryQueue)) {
	b.Run("recorder", func(b *testing.B) {
		h, q := newHandler(b)
		r := graphRequest(b, "http://calsync.example/hooks/graph")
		body := bytes.NewReader(graphPayload)
		b.ReportAllocs()
		for b.Loop() {
			body.Reset(graphPayload)
			r.Body = io.NopCloser(body)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusAccepted {
				b.Fatalf("status %d", w.Code)
			}
			drain(b, q)
		}
		reportRate(b)
	})
	b.Run("loopback", func(b *testing.B) {
		h, q := newHandler(b)
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			graphRoundTrip(b, client, graphRequest(b, srv.URL+"/hooks/graph"))
			drain(b, q)
		}
		reportRate(b)
	})
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
			for pb.Next() {
				graphRoundTrip(b, client, graphRequest(b, srv.URL+"/hooks/graph"))
			}
		})
		reportRate(b)
	})
}

func graphRoundTrip(b *testing.B, client *http.Client, r *http.Request) {
	resp, err := client.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("status %d", resp.StatusCode)
	}
}
