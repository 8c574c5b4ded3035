package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	gcal "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/webhook"
)

// The burst benchmarks measure what a burst of N changes to one calendar
// costs once its notifications (with the providers' multiplicity: Google
// 1 to 3 pushes a change, Graph created + updated) reach the Engine
// together: syncs and provider list calls per burst. The baseline is the
// naive one sync per notification, so syncs/notification is the ratio to
// it. Run with -benchtime=1x: each iteration is one burst.

var burstSizes = []int{1, 10, 100, 1000, 10000}

// sinkOf routes a webhook handler to an Engine made after it.
type sinkOf struct{ e *calsync.Engine }

func (s *sinkOf) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	return s.e.Subscription(ctx, id)
}
func (s *sinkOf) Enqueue(ctx context.Context, n calsync.Notification) error {
	return s.e.Enqueue(ctx, n)
}

func BenchmarkBurstGoogle(b *testing.B) {
	for _, n := range burstSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			ctx := context.Background()
			emu, e, hooksURL := googleRig(b, 2500, nil, calsync.Config{})
			const cal = "burst@example.com"
			emu.AddCalendar(cal, "UTC")
			if _, err := e.Connect(ctx, calsync.Calendar{ID: cal, Provider: google.Name, AccountID: "a", RemoteID: cal}, calsync.ConnectRequest{Address: hooksURL}); err != nil {
				b.Fatal(err)
			}
			settleBurst(b, emu.WaitIdle, e)
			var pushes, syncs, lists int
			for range b.N {
				delivered, synced, listed := len(emu.Deliveries()), e.Stats().Syncs, emu.RequestCount(googletest.OpEventsList, cal)
				emu.PauseNotifications()
				day := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
				for i := range n {
					if _, err := emu.InsertEvent(cal, &gcal.Event{Summary: fmt.Sprint("e", i),
						Start: &gcal.EventDateTime{DateTime: day.Format(time.RFC3339)}, End: &gcal.EventDateTime{DateTime: day.Add(time.Hour).Format(time.RFC3339)}}); err != nil {
						b.Fatal(err)
					}
				}
				emu.ResumeNotifications()
				settleBurst(b, emu.WaitIdle, e)
				for _, d := range emu.Deliveries()[delivered:] {
					if d.OK() {
						pushes++
					}
				}
				syncs += int(e.Stats().Syncs - synced)
				lists += emu.RequestCount(googletest.OpEventsList, cal) - listed
			}
			reportBurst(b, pushes, syncs, lists)
		})
	}
}

func BenchmarkBurstGraph(b *testing.B) {
	for _, n := range burstSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			sink := &sinkOf{}
			hook, err := webhook.NewGraph(webhook.GraphConfig{Sink: sink, MaxBodyBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			hooks := httptest.NewTLSServer(hook)
			defer hooks.Close()
			// A long batch window: the burst's notifications reach the
			// handler as Graph batches them, in few POSTs (Flush ends it).
			emu := msgraphtest.NewServer(msgraphtest.Config{NotificationClient: hooks.Client(), BatchWindow: time.Hour})
			defer emu.Close()
			emu.AddUser("burst")
			prov, err := msgraph.New(msgraph.Config{BaseURL: emu.URL() + "/v1.0", MaxPageSize: 1000,
				HTTPClient: &http.Client{Transport: emu.Client().Transport},
				TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
					return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
				}})
			if err != nil {
				b.Fatal(err)
			}
			e, err := calsync.NewEngine(calsync.Config{Store: memory.New(), Providers: []calsync.Provider{prov}, SkipCatchUp: true})
			if err != nil {
				b.Fatal(err)
			}
			sink.e = e
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go e.Run(ctx)
			cal := calsync.Calendar{ID: "burst", Provider: msgraph.Name, AccountID: "burst"}
			if _, err := e.Connect(ctx, cal, calsync.ConnectRequest{Address: hooks.URL, LifecycleAddress: hooks.URL}); err != nil {
				b.Fatal(err)
			}
			waitGraph := func(ctx context.Context) error { emu.Flush(); return emu.WaitIdle(ctx) }
			settleBurst(b, waitGraph, e)
			calID := emu.PrimaryCalendar("burst")
			var items, syncs, lists int
			for range b.N {
				delivered, synced, listed := len(emu.Deliveries()), e.Stats().Syncs, emu.RequestCount(msgraphtest.OpDelta, calID)
				day := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
				for i := range n {
					if _, err := emu.CreateEvent("burst", "", msgraphtest.Event{Subject: fmt.Sprint("e", i), Start: day, End: day.Add(time.Hour)}); err != nil {
						b.Fatal(err)
					}
				}
				settleBurst(b, waitGraph, e)
				for _, d := range emu.Deliveries()[delivered:] {
					if d.Kind == msgraphtest.KindNotification && d.OK() {
						var body struct{ Value []json.RawMessage }
						json.Unmarshal(d.Body, &body)
						items += len(body.Value)
					}
				}
				syncs += int(e.Stats().Syncs - synced)
				lists += emu.RequestCount(msgraphtest.OpDelta, calID) - listed
			}
			reportBurst(b, items, syncs, lists)
		})
	}
}

// googleRig starts the Google emulator pushing to the webhook handler (on
// a TLS server, behind wrap if not nil) of a running Engine on the memory
// store, made with cfg; pageSize 0 is the provider's default. Everything
// stops when b ends.
func googleRig(b *testing.B, pageSize int, wrap func(http.Handler) http.Handler, cfg calsync.Config) (*googletest.Server, *calsync.Engine, string) {
	sink := &sinkOf{}
	var hook http.Handler
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	if wrap != nil {
		hook = wrap(hook)
	}
	hooks := httptest.NewTLSServer(hook)
	b.Cleanup(hooks.Close)
	emu := googletest.NewServer(googletest.Config{PushClient: hooks.Client()})
	b.Cleanup(emu.Close)
	prov, err := google.New(google.Config{Endpoint: emu.Endpoint(), PageSize: pageSize,
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil }})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Store, cfg.Providers, cfg.SkipCatchUp = memory.New(), []calsync.Provider{prov}, true
	e, err := calsync.NewEngine(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sink.e = e
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go e.Run(ctx)
	return emu, e, hooks.URL
}

// settleBurst waits until the emulator has delivered everything and the
// Engine has handled it, until nothing moves.
func settleBurst(b *testing.B, waitEmu func(context.Context) error, e *calsync.Engine) {
	if err := settleAll(5*time.Minute, []func(context.Context) error{waitEmu}, e); err != nil {
		b.Fatal(err)
	}
}

func reportBurst(b *testing.B, notifications, syncs, calls int) {
	per := float64(b.N)
	b.ReportMetric(float64(notifications)/per, "notifications/burst")
	b.ReportMetric(float64(syncs)/per, "syncs/burst")
	b.ReportMetric(float64(calls)/per, "listcalls/burst")
	if notifications > 0 {
		b.ReportMetric(float64(syncs)/float64(notifications), "syncs/notification")
	}
}

// BenchmarkLatency measures notification-to-OnChange latency on loopback
// for 1 and 1,000 Google calendars: one change in each calendar at once,
// the time from the change to OnChange for it, p50 and p99, against the
// baseline of the same run: the time from the change to the webhook
// handler's receipt of its first push (what the emulator and loopback HTTP
// cost before calsync does anything).
func BenchmarkLatency(b *testing.B) {
	for _, c := range []struct {
		n        int
		debounce time.Duration
	}{{1, 0}, {1, -1}, {1000, 0}, {1000, -1}} {
		n := c.n
		name := fmt.Sprintf("calendars=%d/debounce=default", n)
		if c.debounce < 0 {
			name = fmt.Sprintf("calendars=%d/debounce=off", n)
		}
		b.Run(name, func(b *testing.B) {
			var (
				mu       sync.Mutex
				made     = map[string]time.Time{}
				received = map[string]time.Time{}
				changed  = map[string]time.Time{}
			)
			// The push's receipt, before calsync sees it: the baseline.
			receipt := func(hook http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					now := time.Now()
					if uri := r.Header.Get("X-Goog-Resource-Uri"); uri != "" {
						mu.Lock()
						for cal := range made {
							if _, ok := received[cal]; !ok && containsCal(uri, cal) {
								received[cal] = now
							}
						}
						mu.Unlock()
					}
					hook.ServeHTTP(w, r)
				})
			}
			ctx := context.Background()
			emu, e, hooksURL := googleRig(b, 0, receipt, calsync.Config{Debounce: c.debounce,
				OnChange: func(_ context.Context, cal calsync.Calendar, _ []calsync.Change) {
					now := time.Now()
					mu.Lock()
					if _, ok := made[cal.ID]; ok {
						if _, ok := changed[cal.ID]; !ok {
							changed[cal.ID] = now
						}
					}
					mu.Unlock()
				}})
			var cals []string
			for i := range n {
				cal := fmt.Sprintf("lat%04d@example.com", i)
				emu.AddCalendar(cal, "UTC")
				if _, err := e.Connect(ctx, calsync.Calendar{ID: cal, Provider: google.Name, AccountID: cal, RemoteID: cal}, calsync.ConnectRequest{Address: hooksURL}); err != nil {
					b.Fatal(err)
				}
				cals = append(cals, cal)
			}
			settleBurst(b, emu.WaitIdle, e)
			var lat, base []time.Duration
			day := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
			b.ResetTimer()
			for range b.N {
				mu.Lock()
				clear(made)
				clear(received)
				clear(changed)
				mu.Unlock()
				for _, cal := range cals {
					mu.Lock()
					made[cal] = time.Now()
					mu.Unlock()
					if _, err := emu.InsertEvent(cal, &gcal.Event{Summary: "x",
						Start: &gcal.EventDateTime{DateTime: day.Format(time.RFC3339)}, End: &gcal.EventDateTime{DateTime: day.Add(time.Hour).Format(time.RFC3339)}}); err != nil {
						b.Fatal(err)
					}
				}
				settleBurst(b, emu.WaitIdle, e)
				mu.Lock()
				for _, cal := range cals {
					lat = append(lat, changed[cal].Sub(made[cal]))
					base = append(base, received[cal].Sub(made[cal]))
				}
				mu.Unlock()
			}
			b.StopTimer()
			p50, p99 := percentile(lat, 50), percentile(lat, 99)
			b50, b99 := percentile(base, 50), percentile(base, 99)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(b50.Microseconds())/1000, "push-p50-ms")
			b.ReportMetric(float64(b99.Microseconds())/1000, "push-p99-ms")
			if b99 > 0 {
				b.ReportMetric(float64(p99)/float64(b99), "p99/push-p99")
			}
		})
	}
}

// containsCal reports whether a push's X-Goog-Resource-URI names cal
// (Google echoes the client's encoding of the id: "@" or "%40").
func containsCal(uri, cal string) bool {
	return strings.Contains(uri, cal) || strings.Contains(uri, strings.ReplaceAll(cal, "@", "%40"))
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
