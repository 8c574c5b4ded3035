package calsync_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
	"github.com/calsync/calsync/webhook"
)

// secretSet collects every secret a scenario uses, as it learns them.
type secretSet struct {
	mu   sync.Mutex
	list []string
}

func (s *secretSet) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if v != "" {
			s.list = append(s.list, v)
		}
	}
}

// find returns the first secret that text contains, or "".
func (s *secretSet) find(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.list {
		if strings.Contains(text, v) {
			return v
		}
	}
	return ""
}

// tokenEndpoint is an OAuth 2.0 token endpoint that rotates both tokens on
// every refresh and records them as secrets. Its access tokens expire
// within oauth2's early-expiry margin, so every use refreshes. Once refuse
// is set it answers invalid_grant with a description that echoes the
// refresh token it was sent, as careless authorization servers do.
type tokenEndpoint struct {
	secrets *secretSet
	mu      sync.Mutex
	n       int
	refuse  bool
}

func (te *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	te.mu.Lock()
	te.n++
	n, refuse := te.n, te.refuse
	te.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if refuse {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked: %s"}`, r.PostForm.Get("refresh_token"))
		return
	}
	access, refresh := fmt.Sprintf("ya29.leak-access-%d-%x", n, n*7919), fmt.Sprintf("1//leak-refresh-%d-%x", n, n*104729)
	te.secrets.add(access, refresh)
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": 5})
}

// collectedErrors records error strings from every place errors surface.
type collectedErrors struct {
	mu   sync.Mutex
	list []string
	errs []error
}

func (c *collectedErrors) add(err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	c.errs = append(c.errs, err)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Secrets never leak: a whole Google deployment — the emulator pushing to
// webhook.Google over TLS, the Engine on the memory store, OAuth tokens
// that rotate on every refresh sealed by a vault — runs a connect, changes,
// a replayed push, forged and unknown notifications, a renewal that
// replaces the channel, a Graph batch (genuine and forged clientState)
// through webhook.Graph, and finally a refresh the authorization server
// refuses with a body that echoes the refresh token. Every log line (slog
// JSON at Debug), every error the host sees (OnError, returned) and every
// metric name and attribute (an OpenTelemetry ManualReader) is then
// searched for every secret used: OAuth access and refresh tokens, the
// client secret, channel tokens, the Graph clientState and the vault key
// (raw, base64 and hex).
//
// The msgraph provider and its emulator are left out: they would make this
// package's tests compile the Graph SDK. The Graph side is covered by its
// webhook handler, which is where a clientState arrives.
func TestSecretsNeverLeak(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secrets := &secretSet{}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	errs := &collectedErrors{}

	// The vault and the OAuth client.
	key := vault.NewKey()
	secrets.add(string(key), base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key), hex.EncodeToString(key))
	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"k1": key}, Current: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := &tokenEndpoint{secrets: secrets}
	tokenSrv := httptest.NewServer(tokens)
	defer tokenSrv.Close()
	const clientSecret = "GOCSPX-leak-client-secret-5a1b"
	secrets.add(clientSecret)
	conf := &oauth2.Config{ClientID: "calsync-test", ClientSecret: clientSecret, Endpoint: oauth2.Endpoint{TokenURL: tokenSrv.URL, AuthStyle: oauth2.AuthStyleInParams}}
	store := memory.New()
	first := &oauth2.Token{AccessToken: "ya29.leak-access-0-expired", RefreshToken: "1//leak-refresh-0", TokenType: "Bearer", Expiry: time.Now().Add(-time.Hour)}
	secrets.add(first.AccessToken, first.RefreshToken)
	if err := v.PutToken(ctx, store, "alice", first); err != nil {
		t.Fatal(err)
	}
	tokenSource := func(ctx context.Context, accountID string) (oauth2.TokenSource, error) {
		tok, err := v.Token(ctx, store, accountID)
		if err != nil {
			return nil, err
		}
		return v.TokenSource(ctx, conf.TokenSource(ctx, tok), accountID, store), nil
	}

	// The webhook server and the emulator.
	mux := http.NewServeMux()
	hooks := httptest.NewUnstartedServer(mux)
	hooks.Config.ReadHeaderTimeout = 5 * time.Second
	hooks.Config.ReadTimeout = 10 * time.Second
	hooks.Config.IdleTimeout = time.Minute
	hooks.StartTLS()
	defer hooks.Close()
	emu := googletest.NewServer(googletest.Config{PushClient: hooks.Client()})
	defer emu.Close()
	const calID = "alice@example.com"
	if err := emu.AddCalendar(calID, "UTC"); err != nil {
		t.Fatal(err)
	}
	api, err := calendar.NewService(ctx, option.WithEndpoint(emu.Endpoint()), option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-driver"})))
	if err != nil {
		t.Fatal(err)
	}

	// The Engine.
	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer meters.Shutdown(context.Background())
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	prov, err := google.New(google.Config{Endpoint: emu.Endpoint(), TokenSource: tokenSource})
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan calsync.Change, 100)
	failures := make(chan error, 100)
	engine, err := calsync.NewEngine(calsync.Config{
		Store:          store,
		Providers:      []calsync.Provider{prov},
		Logger:         logger,
		MeterProvider:  meters,
		TracerProvider: tracer,
		ManualSweeps:   true,
		RenewBefore:    48 * time.Hour, // longer than the channel lives: the renewal sweep replaces it
		OnChange: func(_ context.Context, _ calsync.Calendar, cs []calsync.Change) {
			for _, c := range cs {
				changes <- c
			}
		},
		OnError: func(_ context.Context, _ calsync.Calendar, err error) {
			errs.add(err)
			failures <- err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := webhook.NewGraph(webhook.GraphConfig{Sink: engine, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("POST /hooks/google", gh)
	mux.Handle("POST /hooks/graph", mh)

	await := func(op calsync.ChangeOp, id string) {
		t.Helper()
		for {
			select {
			case c := <-changes:
				if c.Op == op && c.EventID == id {
					return
				}
			case <-ctx.Done():
				t.Fatalf("waiting for %s of %s: %v", op, id, ctx.Err())
			}
		}
	}
	insert := func(summary string) string {
		t.Helper()
		start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		ev, err := api.Events.Insert(calID, &calendar.Event{Summary: summary,
			Start: &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
			End:   &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339)}}).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		return ev.Id
	}
	channelTokens := func() {
		for _, ch := range emu.Channels(calID) {
			secrets.add(ch.Token)
		}
	}
	post := func(path string, header http.Header, body string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "POST", hooks.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := hooks.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Connect, run, change.
	cal := calsync.Calendar{ID: calID, Provider: google.Name, AccountID: "alice", RemoteID: calID}
	sub, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hooks.URL + "/hooks/google", TTL: 24 * time.Hour})
	errs.add(err)
	if err != nil {
		t.Fatal(err)
	}
	channelTokens()
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- engine.Run(runCtx) }()
	defer func() {
		stop()
		<-runDone
	}()
	await(calsync.Upsert, insert("first"))

	// A replayed push, a forged one, an unknown channel, an over-long id.
	emu.DuplicateNextNotifications(1)
	await(calsync.Upsert, insert("second"))
	goog := func(channel, token string) http.Header {
		return http.Header{
			"X-Goog-Channel-Id": {channel}, "X-Goog-Channel-Token": {token}, "X-Goog-Resource-Id": {sub.ResourceID},
			"X-Goog-Resource-State": {"exists"}, "X-Goog-Message-Number": {"999"},
		}
	}
	if code := post("/hooks/google", goog(sub.ID, "forged-token"), ""); code != http.StatusForbidden {
		t.Errorf("forged channel token: %d", code)
	}
	if code := post("/hooks/google", goog("no-such-channel", "forged-token"), ""); code != http.StatusNotFound {
		t.Errorf("unknown channel: %d", code)
	}
	if code := post("/hooks/google", goog(strings.Repeat("c", 4096), "forged-token"), ""); code != http.StatusBadRequest {
		t.Errorf("over-long channel id: %d", code)
	}

	// Graph: a subscription the Store knows, notified with its clientState
	// and with a forged one. This Engine has no msgraph provider, so
	// processing the genuine item fails and reports an error.
	const clientState = "cs-leak-9d2e77f0c4a1b3e5"
	secrets.add(clientState)
	if err := store.PutCalendar(ctx, calsync.Calendar{ID: "outlook-cal", Provider: "msgraph", AccountID: "bob", RemoteID: ""}); err != nil {
		t.Fatal(err)
	}
	graphSub := calsync.Subscription{ID: "graph-sub-1", CalendarID: "outlook-cal", Provider: "msgraph",
		SecretHash: provider.HashSecret(clientState), Expiration: time.Now().Add(72 * time.Hour)} // beyond RenewBefore
	if err := store.PutSubscription(ctx, graphSub); err != nil {
		t.Fatal(err)
	}
	item := func(state string) string {
		return `{"subscriptionId":"graph-sub-1","changeType":"updated","clientState":"` + state +
			`","resource":"Users/u/Events/e","resourceData":{"@odata.etag":"W/\"1\""}}`
	}
	if code := post("/hooks/graph", nil, `{"value":[`+item("forged-"+clientState[:8])+`]}`); code != http.StatusForbidden {
		t.Errorf("forged clientState: %d", code)
	}
	if code := post("/hooks/graph", nil, `{"value":[`+item(clientState)+`]}`); code != http.StatusAccepted {
		t.Errorf("genuine clientState: %d", code)
	}
	select {
	case <-failures: // the Graph notification of a calendar nobody connected
	case <-ctx.Done():
		t.Fatal("no error reported for the Graph notification")
	}

	// A renewal replaces the channel: a new token.
	n, err := engine.RunSweep(ctx, calsync.SweepRenew)
	errs.add(err)
	if n != 1 || err != nil {
		t.Fatalf("renewal sweep = %d, %v", n, err)
	}
	channelTokens()
	await(calsync.Upsert, insert("third"))

	// The authorization server refuses the refresh, echoing the token.
	tokens.mu.Lock()
	tokens.refuse = true
	tokens.mu.Unlock()
	insert("fourth")
	for reauth := false; !reauth; {
		select {
		case err := <-failures:
			reauth = errors.Is(err, calsync.ErrReauthRequired)
		case <-ctx.Done():
			t.Fatal("no ErrReauthRequired after the refresh was refused")
		}
	}
	if err := emu.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	errs.add(<-runDone)
	runDone <- nil // for the deferred stop

	// Sealed tokens in the store are the only place the tokens are.
	sealed, err := store.AccountToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if s := secrets.find(string(sealed.Ciphertext)); s != "" {
		t.Errorf("a sealed token holds a secret in clear")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	labels := metricLabels(t, rm)

	// Every secret is known by now; search everything.
	if len(secrets.list) < 10 {
		t.Fatalf("only %d secrets collected: the scenario did not run", len(secrets.list))
	}
	logText := logs.String()
	if !strings.Contains(logText, calID) || !strings.Contains(logText, sub.ID) {
		t.Fatalf("the log does not name the calendar and channel: nothing was logged?\n%.2000s", logText)
	}
	for i, line := range strings.Split(logText, "\n") {
		if s := secrets.find(line); s != "" {
			t.Errorf("log line %d holds a secret (%.12s…): %.300s", i+1, s, line)
		}
	}
	if len(errs.errs) == 0 {
		t.Fatal("no error surfaced: the failure paths did not run")
	}
	for _, e := range errs.list {
		if s := secrets.find(e); s != "" {
			t.Errorf("error holds a secret (%.12s…): %.300s", s, e)
		}
	}
	if !strings.Contains(strings.Join(labels, "\n"), "provider=google") {
		t.Fatalf("no metric data point was recorded: %q", labels)
	}
	for _, l := range labels {
		if s := secrets.find(l); s != "" {
			t.Errorf("metric label holds a secret (%.12s…): %.300s", s, l)
		}
	}
	spanText := spanLabels(spans.Ended())
	if !strings.Contains(strings.Join(spanText, "\n"), "calsync.calendar.id="+calID) {
		t.Fatalf("no span was recorded: %q", spanText)
	}
	for _, l := range spanText {
		if s := secrets.find(l); s != "" {
			t.Errorf("span holds a secret (%.12s…): %.300s", s, l)
		}
	}
}

// spanLabels returns every span's name, status and attributes (key=value),
// and its events' names and attributes.
func spanLabels(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name(), sp.Status().Description)
		out = append(out, attrs(sp.Attributes())...)
		for _, ev := range sp.Events() {
			out = append(out, ev.Name)
			out = append(out, attrs(ev.Attributes)...)
		}
	}
	return out
}

// metricLabels returns every metric's name, description and unit, and
// every attribute (key=value) of every data point.
func metricLabels(t *testing.T, rm metricdata.ResourceMetrics) []string {
	t.Helper()
	var out []string
	for _, kv := range rm.Resource.Attributes() {
		out = append(out, string(kv.Key)+"="+kv.Value.Emit())
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name, m.Description, m.Unit)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				out = append(out, pointAttrs(d.DataPoints)...)
			case metricdata.Sum[float64]:
				out = append(out, pointAttrs(d.DataPoints)...)
			case metricdata.Gauge[int64]:
				out = append(out, pointAttrs(d.DataPoints)...)
			case metricdata.Gauge[float64]:
				out = append(out, pointAttrs(d.DataPoints)...)
			case metricdata.Histogram[int64]:
				out = append(out, histogramAttrs(d.DataPoints)...)
			case metricdata.Histogram[float64]:
				out = append(out, histogramAttrs(d.DataPoints)...)
			default:
				t.Fatalf("metric %s has data of type %T, which this test cannot read", m.Name, m.Data)
			}
		}
	}
	return out
}

func pointAttrs[N int64 | float64](points []metricdata.DataPoint[N]) []string {
	var out []string
	for _, p := range points {
		out = append(out, attrs(p.Attributes.ToSlice())...)
	}
	return out
}

func histogramAttrs[N int64 | float64](points []metricdata.HistogramDataPoint[N]) []string {
	var out []string
	for _, p := range points {
		out = append(out, attrs(p.Attributes.ToSlice())...)
	}
	return out
}

func attrs(kvs []attribute.KeyValue) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = string(kv.Key) + "=" + kv.Value.Emit()
	}
	return out
}
