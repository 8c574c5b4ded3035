package retry

import (
	"net/http"
	"time"
)

// DefaultIdleConnsPerHost is how many idle keep-alive connections
// [NewPooledTransport] keeps per host. A provider's API is one host
// (www.googleapis.com, graph.microsoft.com), so every worker of an Engine,
// the renewal sweep and the paced catch-up share its pool; with
// http.DefaultTransport's two idle connections per host, each call beyond
// the second that finishes closes its connection and the next one pays a
// new TCP and TLS handshake. 64 covers calsync.DefaultWorkers many times
// over plus the sweeps, and hosts that raise Workers well beyond it; idle
// connections cost a file descriptor and a few kilobytes each, and close
// after IdleConnTimeout.
const DefaultIdleConnsPerHost = 64

// NewPooledTransport returns a clone of http.DefaultTransport (proxy from
// the environment, HTTP/2, the same timeouts) that keeps
// DefaultIdleConnsPerHost idle connections per host and twice that in
// all, for the default HTTP clients of the providers.
func NewPooledTransport() *http.Transport {
	var t *http.Transport
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		t = d.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
	}
	t.MaxIdleConnsPerHost = DefaultIdleConnsPerHost
	t.MaxIdleConns = max(t.MaxIdleConns, 2*DefaultIdleConnsPerHost)
	return t
}
