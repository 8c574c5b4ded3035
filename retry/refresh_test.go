package retry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/retry"
)

// rejectingSource hands out "old" until told it was refused, then "new".
type rejectingSource struct {
	mu       sync.Mutex
	rejected []string
	current  string
}

func (s *rejectingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &oauth2.Token{AccessToken: s.current, TokenType: "Bearer"}, nil
}

func (s *rejectingSource) RejectToken(at string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, at)
	s.current = "new"
}

// plainSource cannot reject.
type plainSource struct{}

func (plainSource) Token() (*oauth2.Token, error) { return &oauth2.Token{AccessToken: "old"}, nil }

func TestRefreshOn401(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
		valid  = map[string]bool{"new": true}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		ok := valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	send := func(ts oauth2.TokenSource, body string) (int, []string) {
		t.Helper()
		mu.Lock()
		bodies = nil
		mu.Unlock()
		c := &http.Client{Transport: &retry.RefreshOn401{
			Base:   &oauth2.Transport{Source: ts, Base: http.DefaultTransport},
			Source: func(*http.Request) (oauth2.TokenSource, error) { return ts, nil },
		}}
		resp, err := c.Post(srv.URL, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		return resp.StatusCode, append([]string(nil), bodies...)
	}

	// Refused, rejected, refreshed, sent again with the same body.
	ts := &rejectingSource{current: "old"}
	status, got := send(ts, "payload")
	if status != http.StatusOK || len(got) != 2 || got[1] != "payload" || len(ts.rejected) != 1 || ts.rejected[0] != "old" {
		t.Errorf("refused once: status %d, bodies %q, rejected %q; want 200, two sends of the body, old rejected", status, got, ts.rejected)
	}
	// A grant refused for good: one retry, then the 401 stands.
	mu.Lock()
	valid = map[string]bool{}
	mu.Unlock()
	ts = &rejectingSource{current: "old"}
	if status, got := send(ts, "x"); status != http.StatusUnauthorized || len(got) != 2 {
		t.Errorf("refused twice: status %d after %d sends, want 401 after 2", status, len(got))
	}
	// A source that cannot reject: no retry.
	if status, got := send(plainSource{}, "x"); status != http.StatusUnauthorized || len(got) != 1 {
		t.Errorf("plain source: status %d after %d sends, want 401 after 1", status, len(got))
	}
}
