package retry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/calsync/calsync/retry"
)

// BenchmarkRoundTrip measures what the retry layer costs on the path that
// matters, a successful request: the same GET to a loopback server through
// http.DefaultTransport bare, through Transport, and through Transport over
// LimitTransport (a rate too high to ever wait, and a concurrency limit, so
// the bookkeeping is measured, not waits). Compare ns/op within one run;
// BENCHMARKS.md records the ratio.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"kind":"calendar#events","items":[]}`)
	}))
	defer srv.Close()
	lim, err := retry.NewLimiter(retry.Limits{Requests: 1 << 30, Per: 1, Concurrency: 4}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := retry.WithAccount(context.Background(), "acct-1")
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", http.DefaultTransport},
		{"retry", retry.Transport{}},
		{"retry+limit", retry.Transport{Base: &retry.LimitTransport{Limiter: lim}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/calendar/v3/calendars/primary/events", nil)
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// cannedTransport answers every request with the same 200, without I/O.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// BenchmarkOverhead isolates the layer's own cost per successful request:
// the same three stacks over a Base that answers without I/O.
func BenchmarkOverhead(b *testing.B) {
	lim, err := retry.NewLimiter(retry.Limits{Requests: 1 << 30, Per: 1, Concurrency: 4}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := retry.WithAccount(context.Background(), "acct-1")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://calendar.example/calendar/v3/calendars/primary/events", nil)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", cannedTransport{}},
		{"retry", retry.Transport{Base: cannedTransport{}}},
		{"retry+limit", retry.Transport{Base: &retry.LimitTransport{Base: cannedTransport{}, Limiter: lim}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
