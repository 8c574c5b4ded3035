package webhook_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/webhook"
)

// shortBodyDeadline is the ReadTimeout the short-body tests configure: short,
// so that the test is quick, and never compared with a measured duration.
const shortBodyDeadline = 50 * time.Millisecond

// sendShortBody sends head (a request line and headers announcing a
// Content-Length larger than body) and body over a raw TCP connection to
// srv, keeps the connection open, and returns the answer. The server sets
// no timeout of its own, so only the handler's read deadline can end the
// wait. A generous deadline on the client side turns a handler that waits
// for ever into a failure instead of a hung test; nothing is measured.
func sendShortBody(t *testing.T, srv *httptest.Server, head, body string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a short body (the handler waits for the rest): %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Bug 10: a POST whose body is shorter than its Content-Length held the
// handler until the client hung up. The handler's read deadline ends it
// with 408, and nothing is queued.
func TestGraphShortBody(t *testing.T) {
	sink := newGraphSink()
	h, err := webhook.NewGraph(webhook.GraphConfig{Sink: sink, Now: func() time.Time { return testNow }, ReadTimeout: shortBodyDeadline})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := batch(change("sub-1", graphSecret, "updated", "e1"))
	for name, target := range map[string]string{
		"notification": "/hooks/graph",
		"validation":   "/hooks/graph?validationToken=abc",
	} {
		t.Run(name, func(t *testing.T) {
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: calsync.example\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", target, len(body)+100)
			resp := sendShortBody(t, srv, head, body)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusRequestTimeout)
			}
		})
	}
	if q := sink.notifications(); len(q) != 0 {
		t.Errorf("queued %+v from a body that never arrived", q)
	}
}

func TestGoogleShortBody(t *testing.T) {
	sink := newSink()
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return testNow }, ReadTimeout: shortBodyDeadline})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	head := strings.TrimSuffix(wire("POST", valid("exists", "1"), ""), "Content-Length: 0\r\n\r\n") + "Content-Length: 100\r\n\r\n"
	resp := sendShortBody(t, srv, head, "{}")
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusRequestTimeout)
	}
	if q := sink.notifications(); len(q) != 0 {
		t.Errorf("queued %+v from a body that never arrived", q)
	}
}
