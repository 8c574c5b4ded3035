// Command prometheus shows calsync's metrics the way a host application
// exposes them to Prometheus: it sets the OpenTelemetry global
// MeterProvider to one backed by the Prometheus exporter (calsync's
// Engine reads the global provider when Config.MeterProvider is nil),
// serves /metrics and the Engine's readiness probe next to its webhook
// handlers, syncs a calendar of the local Google Calendar emulator
// (googletest) through a push notification, then scrapes its own
// /metrics and prints a few of calsync's lines. No credentials, no
// internet, no Microsoft Graph SDK to compile.
//
//	go run ./examples/prometheus
//
// A host application serves /metrics on its own server, lets Prometheus
// scrape it, and leaves google.Config.Endpoint empty to reach Google.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/webhook"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	scraped, err := run(ctx)
	if err != nil {
		log.Printf("prometheus: %v", err)
		os.Exit(1)
	}
	fmt.Println("== a few lines of GET /metrics")
	for _, l := range excerpt(scraped) {
		fmt.Println("  " + l)
	}
}

const calID = "alice@example.com"

// run wires the exporter, the Engine and the webhook server, syncs one
// change pushed by the emulator, and returns what GET /metrics answered.
func run(ctx context.Context) (string, error) {
	// The host's metrics pipeline: OpenTelemetry SDK → Prometheus
	// registry, installed as the global MeterProvider before NewEngine.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return "", err
	}
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer meters.Shutdown(context.WithoutCancel(ctx))
	otel.SetMeterProvider(meters)

	// The host's server: webhook handlers, /metrics and /readyz side by
	// side. Google delivers only to HTTPS; the emulator trusts this
	// server's certificate.
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	srv.Config.ReadTimeout = 10 * time.Second
	srv.Config.IdleTimeout = time.Minute
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // connections cut at shutdown
	srv.StartTLS()
	defer srv.Close()

	emu := googletest.NewServer(googletest.Config{PushClient: srv.Client()})
	defer emu.Close()
	if err := emu.AddCalendar(calID, "Europe/Berlin"); err != nil {
		return "", err
	}
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "prometheus-example-token"}) // the emulator accepts any
	api, err := calendar.NewService(ctx, option.WithEndpoint(emu.Endpoint()), option.WithTokenSource(token))
	if err != nil {
		return "", err
	}
	prov, err := google.New(google.Config{
		Endpoint:    emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil },
	})
	if err != nil {
		return "", err
	}
	changes := make(chan calsync.Change, 100)
	engine, err := calsync.NewEngine(calsync.Config{
		Store:     memory.New(),
		Providers: []calsync.Provider{prov},
		// No MeterProvider: the global one set above.
		OnChange: func(_ context.Context, _ calsync.Calendar, cs []calsync.Change) {
			for _, c := range cs {
				changes <- c
			}
		},
	})
	if err != nil {
		return "", err
	}
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine})
	if err != nil {
		return "", err
	}
	mux.Handle("POST /hooks/google", hook)
	mux.Handle("/readyz", engine.ReadinessHandler(calsync.ReadinessConfig{}))

	cal := calsync.Calendar{ID: calID, Provider: google.Name, AccountID: "alice", RemoteID: calID}
	if _, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: srv.URL + "/hooks/google"}); err != nil {
		return "", err
	}
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() {
		engine.Run(runCtx)
		close(runDone)
	}()
	defer func() {
		stop()
		<-runDone
	}()

	// A change in Google Calendar: pushed to the webhook, queued, synced.
	start := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	ev, err := api.Events.Insert(calID, &calendar.Event{Summary: "Lunch with Ana",
		Start: &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:   &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339)}}).Context(ctx).Do()
	if err != nil {
		return "", err
	}
	if err := await(ctx, changes, ev.Id); err != nil {
		return "", err
	}
	if err := emu.WaitIdle(ctx); err != nil { // every push delivered
		return "", err
	}
	if err := engine.WaitIdle(ctx); err != nil { // and processed
		return "", err
	}

	// What Prometheus would scrape.
	return get(ctx, srv.Client(), srv.URL+"/metrics")
}

// await waits until OnChange has received an upsert of event id.
func await(ctx context.Context, changes <-chan calsync.Change, id string) error {
	for {
		select {
		case c := <-changes:
			if c.Op == calsync.Upsert && c.EventID == id {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for event %s: %w", id, ctx.Err())
		}
	}
}

// get returns the body of a GET of url, an error unless it answers 200.
func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New("GET " + url + ": " + resp.Status)
	}
	return string(body), nil
}

// excerpt picks a few of calsync's lines from a scrape: the counters and
// gauges, and the sync duration's count and sum (its buckets are many).
func excerpt(scraped string) []string {
	var out []string
	for l := range strings.Lines(scraped) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "calsync_") || strings.Contains(l, "_bucket{") {
			continue
		}
		if strings.Contains(l, "_duration_seconds") && !strings.HasPrefix(l, "calsync_sync_duration_seconds") {
			continue
		}
		out = append(out, l)
	}
	return out
}
