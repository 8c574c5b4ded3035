package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/webhook"
)

// exampleSink stands in for a *calsync.Engine: one Google channel, and a
// Queue the Engine's workers would read.
type exampleSink struct {
	sub   calsync.Subscription
	queue *calsync.MemoryQueue
}

func (s exampleSink) Subscription(_ context.Context, id string) (calsync.Subscription, error) {
	if id != s.sub.ID {
		return calsync.Subscription{}, calsync.ErrNotFound
	}
	return s.sub, nil
}

func (s exampleSink) Enqueue(ctx context.Context, n calsync.Notification) error {
	return s.queue.Enqueue(ctx, n)
}

func ExampleNewGoogle() {
	sink := exampleSink{
		sub: calsync.Subscription{
			ID: "4ba78bf0-6a47-11e2-bcfd-0800200c9a66", CalendarID: "alice-work", Provider: "google",
			SecretHash: provider.HashSecret("398348u3tu83ut8uu38"), ResourceID: "ret08u3rv24htgh289g",
			Expiration: time.Now().Add(24 * time.Hour),
		},
		queue: calsync.NewMemoryQueue(0),
	}
	google, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink}) // in a host app: Sink: engine
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hooks/google", google)

	// What Google sends when an event of the calendar changes.
	r := httptest.NewRequest("POST", "/hooks/google", nil)
	r.Header.Set("X-Goog-Channel-ID", "4ba78bf0-6a47-11e2-bcfd-0800200c9a66")
	r.Header.Set("X-Goog-Channel-Token", "398348u3tu83ut8uu38")
	r.Header.Set("X-Goog-Resource-ID", "ret08u3rv24htgh289g")
	r.Header.Set("X-Goog-Resource-State", "exists")
	r.Header.Set("X-Goog-Message-Number", "10")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)

	n, _ := sink.queue.Dequeue(context.Background())
	fmt.Println(w.Code, n.Kind, n.CalendarID, n.MessageID)
	// Output: 200 changed alice-work 4ba78bf0-6a47-11e2-bcfd-0800200c9a66/10
}
