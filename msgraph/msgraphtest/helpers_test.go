package msgraphtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// t0 is the fake "now" of most tests.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// receiver is a TLS webhook endpoint that answers validation correctly and
// records notification bodies.
type receiver struct {
	ts *httptest.Server

	mu     sync.Mutex
	bodies [][]byte
	status int // answer to notifications; 0 = 202
	// validate, when set, answers validation requests instead.
	validate func(w http.ResponseWriter, r *http.Request, token string)
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.ts = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.ts.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("validationToken"); tok != "" {
		rc.mu.Lock()
		v := rc.validate
		rc.mu.Unlock()
		if v != nil {
			v(w, r, tok)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, tok)
		return
	}
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, b)
	st := rc.status
	rc.mu.Unlock()
	if st == 0 {
		st = http.StatusAccepted
	}
	w.WriteHeader(st)
}

func (rc *receiver) setValidate(v func(w http.ResponseWriter, r *http.Request, token string)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.validate = v
}

func (rc *receiver) setStatus(st int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = st
}

type notification struct {
	SubscriptionID                 string          `json:"subscriptionId"`
	SubscriptionExpirationDateTime string          `json:"subscriptionExpirationDateTime"`
	ChangeType                     string          `json:"changeType"`
	LifecycleEvent                 string          `json:"lifecycleEvent"`
	Resource                       string          `json:"resource"`
	ResourceData                   json.RawMessage `json:"resourceData"`
	ClientState                    *string         `json:"clientState"`
	TenantID                       string          `json:"tenantId"`
}

// posts returns the received notification POSTs, decoded.
func (rc *receiver) posts(t *testing.T) [][]notification {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out [][]notification
	for _, b := range rc.bodies {
		var c struct {
			Value []notification `json:"value"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("notification body %s: %v", b, err)
		}
		out = append(out, c.Value)
	}
	return out
}

func (rc *receiver) rawBodies() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

// newServer starts an emulator with a fake clock whose notifications reach
// TLS receivers.
func newServer(t *testing.T, cfg msgraphtest.Config) (*msgraphtest.Server, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.NotificationClient == nil {
		// httptest TLS servers share one certificate, so the client of a
		// throwaway TLS server trusts every receiver.
		tmp := httptest.NewTLSServer(http.NotFoundHandler())
		cfg.NotificationClient = tmp.Client()
		tmp.Close()
	}
	srv := msgraphtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	srv.AddUser("alice")
	return srv, clk
}

// api performs a raw Graph call with a bearer token and decodes the JSON
// answer into out (if non-nil). It returns the response with its body
// read into the returned bytes.
func api(t *testing.T, srv *msgraphtest.Server, method, path string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = srv.URL() + "/v1.0" + path
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer token-1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

type graphError struct {
	Error struct {
		Code       string            `json:"code"`
		Message    string            `json:"message"`
		InnerError map[string]string `json:"innerError"`
	} `json:"error"`
}

func expectError(t *testing.T, resp *http.Response, body []byte, status int, code string) graphError {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var e graphError
	decode(t, body, &e)
	if e.Error.Code != code {
		t.Fatalf("error code = %q, want %q; body %s", e.Error.Code, code, body)
	}
	if e.Error.InnerError["request-id"] == "" || e.Error.InnerError["date"] == "" || e.Error.InnerError["client-request-id"] == "" {
		t.Errorf("innerError lacks request-id/date/client-request-id: %s", body)
	}
	return e
}

func subBody(url string, exp time.Time, extra map[string]any) map[string]any {
	b := map[string]any{
		"changeType":         "created,updated,deleted",
		"notificationUrl":    url,
		"resource":           "me/events",
		"expirationDateTime": exp.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"clientState":        "secret-state",
	}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

func createSub(t *testing.T, srv *msgraphtest.Server, url string, extra map[string]any) map[string]any {
	t.Helper()
	resp, b := api(t, srv, "POST", "/subscriptions", subBody(url, t0.Add(time.Hour), extra), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create subscription: %d %s", resp.StatusCode, b)
	}
	var sub map[string]any
	decode(t, b, &sub)
	return sub
}

func waitIdle(t *testing.T, srv *msgraphtest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

// deltaRound follows nextLinks from url until a deltaLink and returns the
// items, the number of pages and the deltaLink.
func deltaRound(t *testing.T, srv *msgraphtest.Server, url string, pageSize int) (items []map[string]any, pages int, deltaLink string) {
	t.Helper()
	for {
		hdr := map[string]string{}
		if pageSize > 0 {
			hdr["Prefer"] = fmt.Sprintf("odata.maxpagesize=%d", pageSize)
		}
		resp, b := api(t, srv, "GET", url, nil, hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delta %s: %d %s", url, resp.StatusCode, b)
		}
		var page struct {
			Context   string           `json:"@odata.context"`
			Next      string           `json:"@odata.nextLink"`
			DeltaLink string           `json:"@odata.deltaLink"`
			Value     []map[string]any `json:"value"`
		}
		decode(t, b, &page)
		pages++
		if pageSize > 0 && len(page.Value) > pageSize {
			t.Fatalf("page has %d items, maxpagesize %d", len(page.Value), pageSize)
		}
		items = append(items, page.Value...)
		switch {
		case page.Next != "" && page.DeltaLink != "":
			t.Fatalf("page has both nextLink and deltaLink")
		case page.Next != "":
			if !strings.Contains(page.Next, "$skiptoken=") {
				t.Fatalf("nextLink %q lacks $skiptoken", page.Next)
			}
			url = page.Next
		case page.DeltaLink != "":
			if !strings.Contains(page.DeltaLink, "$deltatoken=") {
				t.Fatalf("deltaLink %q lacks $deltatoken", page.DeltaLink)
			}
			return items, pages, page.DeltaLink
		default:
			t.Fatalf("page has neither nextLink nor deltaLink: %s", b)
		}
		if pages > 1000 {
			t.Fatal("nextLink loop")
		}
	}
}
