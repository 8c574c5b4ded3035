package webhook_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/webhook"
)

// huge is the size of the channel id that once gave 524 KB of logs.
const huge = 512 << 10

func jsonLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// idTail ends the ids whose logging is checked: it must not appear in a log.
const idTail = "END-OF-ID"

// maxLogBytes bounds what one rejected request may log: a few records of
// ids and constant messages.
const maxLogBytes = 2 << 10

// checkRefusedEarly fails t unless the answer is 400 and the request cost
// no lookup, no queued notification, and only a few bytes of log and
// answer.
func checkRefusedEarly(t *testing.T, sink *fakeSink, w *httptest.ResponseRecorder, logs *bytes.Buffer) {
	t.Helper()
	if w.Code != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", w.Code)
	}
	if sink.lookups != 0 || len(sink.notifications()) != 0 {
		t.Errorf("looked up %d subscriptions, queued %v", sink.lookups, sink.notifications())
	}
	if logs.Len() > maxLogBytes || w.Body.Len() > maxLogBytes {
		t.Errorf("logged %d bytes, answered %d bytes", logs.Len(), w.Body.Len())
	}
}

// checkLogsPrefix fails t unless log names id (made of x's and idTail) by a
// prefix, and only by a prefix.
func checkLogsPrefix(t *testing.T, log, id string) {
	t.Helper()
	if !strings.Contains(log, "xxxxxxxx") {
		t.Fatalf("log %q does not name the id", log)
	}
	if strings.Contains(log, idTail) || strings.Contains(log, id[:webhook.MaxIDLength/2]) {
		t.Errorf("log %q holds more than a prefix of the unknown id", log)
	}
}

// Over-long ids are unauthenticated input: they are rejected with 400
// before any lookup or log line, whatever their size.
func TestGoogleOverlongIDs(t *testing.T) {
	long := strings.Repeat("a", webhook.MaxIDLength+1)
	tests := map[string]struct {
		header, value string
	}{
		"channel id":              {"X-Goog-Channel-Id", long},
		"huge channel id":         {"X-Goog-Channel-Id", strings.Repeat("c", huge)},
		"resource id":             {"X-Goog-Resource-Id", long},
		"huge resource id":        {"X-Goog-Resource-Id", strings.Repeat("r", huge)},
		"channel token":           {"X-Goog-Channel-Token", long},
		"message number":          {"X-Goog-Message-Number", "000000000000000000001"},
		"huge message number":     {"X-Goog-Message-Number", strings.Repeat("9", huge)},
		"huge zero-padded number": {"X-Goog-Message-Number", strings.Repeat("0", huge) + "1"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			sink := newSink()
			var logs bytes.Buffer
			h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return testNow }, Logger: jsonLogger(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", "/hooks/google", nil)
			for _, kv := range valid("exists", "1") {
				r.Header.Set(kv[0], kv[1])
			}
			r.Header.Set(tt.header, tt.value)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			checkRefusedEarly(t, sink, w, &logs)
		})
	}
	// The limits themselves are accepted (and a 64-byte channel id is
	// Google's own maximum).
	sink := newSink()
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/hooks/google", nil)
	for _, kv := range valid("exists", "18446744073709551615") {
		r.Header.Set(kv[0], kv[1])
	}
	r.Header.Set("X-Goog-Channel-Id", strings.Repeat("a", webhook.MaxIDLength))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Errorf("channel id of MaxIDLength bytes: status = %d, want 404 (unknown)", w.Code)
	}
}

// An unknown channel id is logged, but only a prefix of it: it is
// whatever the sender chose.
func TestGoogleLogsPrefixOfUnknownChannel(t *testing.T) {
	var logs bytes.Buffer
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: newSink(), Now: func() time.Time { return testNow }, Logger: jsonLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("x", webhook.MaxIDLength-len(idTail)) + idTail
	r := httptest.NewRequest("POST", "/hooks/google", nil)
	for _, kv := range valid("exists", "1") {
		r.Header.Set(kv[0], kv[1])
	}
	r.Header.Set("X-Goog-Channel-Id", id)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", w.Code)
	}
	checkLogsPrefix(t, logs.String(), id)
}

func TestGraphOverlongIDs(t *testing.T) {
	long := strings.Repeat("a", webhook.MaxIDLength+1)
	tests := map[string]string{
		"subscription id":      change(long, graphSecret, "updated", "e1"),
		"huge subscription id": change(strings.Repeat("s", huge), graphSecret, "updated", "e1"),
		"clientState":          change("sub-1", long, "updated", "e1"),
		"huge clientState":     change("sub-1", strings.Repeat("c", huge), "updated", "e1"),
	}
	for name, item := range tests {
		t.Run(name, func(t *testing.T) {
			sink := newGraphSink()
			var logs bytes.Buffer
			h, err := webhook.NewGraph(webhook.GraphConfig{Sink: sink, Now: func() time.Time { return testNow }, Logger: jsonLogger(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			// A genuine item first: the batch is refused as a whole,
			// before anything is looked up or queued.
			w := serveGraph(h, "POST", "/hooks/graph", batch(change("sub-1", graphSecret, "updated", "e0"), item))
			checkRefusedEarly(t, sink, w, &logs)
		})
	}
}

func TestGraphLogsPrefixOfUnknownSubscription(t *testing.T) {
	var logs bytes.Buffer
	h := newGraph(t, newGraphSink(), &logs)
	id := strings.Repeat("x", webhook.MaxIDLength-len(idTail)) + idTail
	for _, item := range []string{
		change(id, graphSecret, "updated", "e1"),                              // unknown
		`{"subscriptionId":"` + id + `","clientState":"` + graphSecret + `"}`, // neither changeType nor lifecycleEvent
	} {
		logs.Reset()
		if w := serveGraph(h, "POST", "/hooks/graph", batch(item)); w.Code != http.StatusAccepted {
			t.Fatalf("status = %d, want 202", w.Code)
		}
		checkLogsPrefix(t, logs.String(), id)
	}
}

// A batch is up to MaxBodyBytes of items a sender chose: the handler logs
// only its first few dropped or forged items one by one, then a count, so
// that logging costs a bounded amount per request instead of several times
// the body.
func TestGraphBatchLogsBounded(t *testing.T) {
	var items []string
	size := 0
	for i := 0; size < int(webhook.DefaultGraphMaxBodyBytes)-1024; i++ {
		var item string
		switch i % 3 {
		case 0:
			item = change("unknown-"+strings.Repeat("u", 60), graphSecret, "updated", "e")
		case 1:
			item = change("sub-1", "forged", "updated", "e")
		default:
			item = `{"subscriptionId":"sub-1"}`
		}
		items = append(items, item)
		size += len(item) + 1
	}
	var logs bytes.Buffer
	h, err := webhook.NewGraph(webhook.GraphConfig{Sink: newGraphSink(), Now: func() time.Time { return testNow }, Logger: jsonLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	if w := serveGraph(h, "POST", "/hooks/graph", batch(items...)); w.Code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", w.Code)
	}
	if logs.Len() > 8*maxLogBytes {
		t.Errorf("a batch of %d items logged %d bytes in %d records", len(items), logs.Len(), strings.Count(logs.String(), "\n"))
	}
	if !strings.Contains(logs.String(), `"not_logged":`) {
		t.Errorf("log %q does not count the items it left out", logs.String()[:min(logs.Len(), 2000)])
	}
}
