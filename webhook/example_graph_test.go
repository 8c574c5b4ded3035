package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/webhook"
)

func ExampleNewGraph() {
	sink := exampleSink{
		sub: calsync.Subscription{
			ID: "c6126aa3-0ed8-412f-a988-71e6cee627c4", CalendarID: "alice-outlook", Provider: "msgraph",
			SecretHash: provider.HashSecret("9f86d081884c7d65"), Expiration: time.Now().Add(24 * time.Hour),
		},
		queue: calsync.NewMemoryQueue(0),
	}
	graph, err := webhook.NewGraph(webhook.GraphConfig{Sink: sink}) // in a host app: Sink: engine
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hooks/graph", graph)           // notificationUrl
	mux.Handle("/hooks/graph-lifecycle", graph) // lifecycleNotificationUrl

	// Graph's validation handshake when the subscription is created.
	r := httptest.NewRequest("POST", "/hooks/graph?validationToken=Validation%3A%20Testing%20client%20application%20reachability", nil)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)

	// A change notification, then a lifecycle notification.
	for path, item := range map[string]string{
		"/hooks/graph": `{"subscriptionId":"c6126aa3-0ed8-412f-a988-71e6cee627c4","changeType":"updated",
			"resource":"Users/u1/Events/AAMk=","resourceData":{"@odata.etag":"W/\"CQAA\"","id":"AAMk="},
			"clientState":"9f86d081884c7d65","tenantId":"t"}`,
		"/hooks/graph-lifecycle": `{"subscriptionId":"c6126aa3-0ed8-412f-a988-71e6cee627c4",
			"subscriptionExpirationDateTime":"2026-03-20T11:00:00.0000000Z","clientState":"9f86d081884c7d65",
			"lifecycleEvent":"reauthorizationRequired","tenantId":"t"}`,
	} {
		r := httptest.NewRequest("POST", path, strings.NewReader(`{"value":[`+item+`]}`))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		n, _ := sink.queue.Dequeue(context.Background())
		fmt.Println(path, w.Code, n.Kind, n.CalendarID)
	}
	// Unordered output:
	// 200 Validation: Testing client application reachability
	// /hooks/graph 202 changed alice-outlook
	// /hooks/graph-lifecycle 202 reauthorizationRequired alice-outlook
}
