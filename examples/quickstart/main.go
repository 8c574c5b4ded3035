// Command quickstart runs calsync end to end on one machine, with no
// credentials and no internet: emulators of the Google Calendar API
// (googletest) and of Microsoft Graph (msgraphtest), the calsync Engine on
// the embedded SQLite store, and a webhook server on loopback that both
// emulators push notifications to.
//
// It connects a Google and an Outlook account through the OAuth connect flow
// (package connect, against the emulators' identity providers), then two
// Google calendars and one Outlook calendar side by side,
// then creates, moves and deletes events through the emulators (including
// recurring events with a changed and a cancelled occurrence), prints every
// change as it reaches the host callback, and finally prints a summary and
// the OpenTelemetry metrics. It exits 0 only if every local copy equals the
// emulator's.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/vault"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Printf("quickstart: %v", err)
		os.Exit(1)
	}
}

// side is one provider's half of the demo: its emulator, the calendars
// connected on it, and the edits made through its API.
type side interface {
	// oauth registers the quickstart as an OAuth client of the emulator's
	// identity provider, with redirectURL, and returns it for the connect
	// flow.
	oauth(redirectURL string) connect.Provider
	// tokenClient is the HTTP client that reaches the emulator's token
	// endpoint (nil: the default one).
	tokenClient() *http.Client
	// provider returns the calsync Provider for the emulator, counting its
	// API calls in meters, with the accounts' tokens from tokens.
	provider(meters metric.MeterProvider, tokens func(context.Context, string) (oauth2.TokenSource, error)) (calsync.Provider, error)
	// handler returns the webhook handler to mount for the Engine.
	handler(engine *calsync.Engine) (http.Handler, error)
	// seed fills the calendars before they are connected.
	seed(ctx context.Context) error
	// connect connects the calendars the user picks among those of the
	// account the connect flow returned.
	connect(ctx context.Context, engine *calsync.Engine, hookURL string, res connect.Result) error
	// The steps of the demo; the Engine converges after each.
	create(ctx context.Context) error
	edit(ctx context.Context) error
	remove(ctx context.Context) error
	// idle waits until the emulator has delivered every notification.
	idle(ctx context.Context) error
	// compare prints, per calendar, whether the local copy equals the
	// emulator's, and reports whether all do.
	compare(ctx context.Context, st calsync.Store) (bool, error)
	close()
}

// printer prints each committed change as the host callback receives it.
type printer struct{ mu sync.Mutex }

func (p *printer) onChange(_ context.Context, cal calsync.Calendar, changes []calsync.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range changes {
		line := fmt.Sprintf("  [%s] %-6s %s", cal.ID, c.Op, short(c.EventID))
		if c.Op == calsync.Upsert && c.Event != nil {
			line += fmt.Sprintf("  %q %s → %s", c.Event.Summary, c.Event.Start, c.Event.End)
		}
		fmt.Println(line)
	}
}

// short abbreviates Graph's long ids for printing.
func short(id string) string {
	if len(id) > 40 {
		return id[:18] + "…" + id[len(id)-18:]
	}
	return id
}

func run(ctx context.Context) error {
	// The host app's webhook server, with the timeouts every public server
	// needs. The providers only deliver to HTTPS, so it is a TLS server on
	// loopback; the emulators trust its certificate.
	mux := http.NewServeMux()
	hooks := httptest.NewUnstartedServer(mux)
	hooks.Config.ReadHeaderTimeout = 5 * time.Second
	hooks.Config.ReadTimeout = 10 * time.Second
	hooks.Config.IdleTimeout = time.Minute
	hooks.StartTLS()
	defer hooks.Close()

	order := []string{"google", "msgraph"}
	sides := map[string]side{
		"google":  newGoogleSide(hooks.Client()),
		"msgraph": newOutlookSide(hooks.Client()),
	}
	defer func() {
		for _, s := range sides {
			s.close()
		}
	}()

	// Metrics through the OpenTelemetry API, read back at the end.
	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer meters.Shutdown(context.Background())

	// The embedded default store: one SQLite file, here in a temporary
	// directory removed at the end.
	dir, err := os.MkdirTemp("", "calsync-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "calsync.db"), nil)
	if err != nil {
		return err
	}
	defer store.Close()

	// The users' OAuth tokens are sealed in the Store with a vault key (a
	// real app reads it from its secret store), and each provider gets
	// them from a vault.Sources, which refreshes and re-stores them.
	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"demo": vault.NewKey()}, Current: "demo"})
	if err != nil {
		return err
	}
	// The host's own pages: the connect flow's two handlers. Plain HTTP
	// on loopback; a real app serves them on its HTTPS origin.
	appMux := http.NewServeMux()
	app := httptest.NewServer(appMux)
	defer app.Close()
	var (
		providers []calsync.Provider
		clients   []connect.Provider
		sources   = map[string]*vault.Sources{}
	)
	for _, name := range order {
		cp := sides[name].oauth(app.URL + "/connect/callback")
		ts, err := vault.NewSources(vault.SourcesConfig{Vault: v, Accounts: store, Leases: store, OAuth: &cp.OAuth, HTTPClient: sides[name].tokenClient()})
		if err != nil {
			return err
		}
		p, err := sides[name].provider(meters, ts.TokenSource)
		if err != nil {
			return err
		}
		providers, clients, sources[name] = append(providers, p), append(clients, cp), ts
	}

	pr := &printer{}
	var (
		failMu   sync.Mutex
		failures []error
	)
	engine, err := calsync.NewEngine(calsync.Config{
		Store:         store,
		Providers:     providers,
		OnChange:      pr.onChange,
		MeterProvider: meters,
		OnError: func(_ context.Context, cal calsync.Calendar, err error) {
			failMu.Lock()
			failures = append(failures, fmt.Errorf("%s: %w", cal.ID, err))
			failMu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	for _, name := range order {
		h, err := sides[name].handler(engine)
		if err != nil {
			return err
		}
		mux.Handle("/hooks/"+name, h)
	}
	var (
		resMu   sync.Mutex
		results = map[string]connect.Result{}
	)
	flow, err := connect.New(connect.Config{
		Engine: engine, Vault: v, Tokens: store, Providers: clients, Sources: sources,
		// A real app returns the user of its session.
		User: func(*http.Request) (string, error) { return "demo-user", nil },
		Done: func(w http.ResponseWriter, _ *http.Request, res connect.Result) {
			resMu.Lock()
			results[res.Provider] = res
			resMu.Unlock()
			fmt.Fprintln(w, "connected") // a real app shows a calendar picker
		},
		HTTPClient: sides["msgraph"].tokenClient(),
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	appMux.Handle("GET /connect/start", flow.Start())
	appMux.Handle("GET /connect/callback", flow.Callback())
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { engine.Run(runCtx); close(runDone) }()
	defer func() { stop(); <-runDone }() // before the store closes

	settle := func(title string) error {
		for _, name := range order {
			if err := waitSettled(ctx, sides[name], engine); err != nil {
				return err
			}
		}
		fmt.Printf("== %s\n", title)
		return nil
	}
	step := func(title string, do func(side, context.Context) error) error {
		for _, name := range order {
			if err := do(sides[name], ctx); err != nil {
				return fmt.Errorf("%s: %s: %w", title, name, err)
			}
		}
		return settle(title)
	}

	for _, name := range order {
		if err := sides[name].seed(ctx); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	fmt.Println("== connecting a Google account and an Outlook account through the OAuth connect flow (consent, code exchange with PKCE, token sealed)")
	// The user's browser: it follows the redirects from the app to the
	// emulated consent page and back to the app's callback.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	browser := &http.Client{Jar: jar, Transport: sides["msgraph"].tokenClient().Transport, Timeout: 30 * time.Second}
	for _, name := range order {
		resp, err := browser.Get(app.URL + "/connect/start?provider=" + name)
		if err != nil {
			return fmt.Errorf("connect flow %s: %w", name, err)
		}
		resp.Body.Close()
		resMu.Lock()
		res, ok := results[name]
		resMu.Unlock()
		if resp.StatusCode != http.StatusOK || !ok {
			return fmt.Errorf("connect flow %s ended with HTTP %d", name, resp.StatusCode)
		}
		fmt.Printf("  %s account %s: %d calendars found\n", name, res.AccountID, len(res.Calendars))
	}
	fmt.Println("== connecting two Google calendars and one Outlook calendar (subscription + initial full sync)")
	for _, name := range order {
		if err := sides[name].connect(ctx, engine, hooks.URL+"/hooks/"+name, results[name]); err != nil {
			return fmt.Errorf("connect %s: %w", name, err)
		}
	}
	if err := settle("initial state synced; now editing through the providers' APIs"); err != nil {
		return err
	}
	if err := step("created single, all-day and recurring events", side.create); err != nil {
		return err
	}
	if err := step("moved an event, changed one occurrence and cancelled another", side.edit); err != nil {
		return err
	}
	if err := step("deleted an event", side.remove); err != nil {
		return err
	}

	stats := engine.Stats()
	fmt.Println("== summary")
	fmt.Printf("  notifications queued: %d, processed: %d (duplicates skipped: %d)\n", stats.Enqueued, stats.Processed, stats.Duplicates)
	fmt.Printf("  syncs run: %d (full: %d), changes committed: %d, stale skipped: %d\n", stats.Syncs, stats.FullSyncs, stats.Changes, stats.Stale)
	equal := true
	for _, name := range order {
		ok, err := sides[name].compare(ctx, store)
		if err != nil {
			return err
		}
		equal = equal && ok
	}
	if err := printMetrics(ctx, reader); err != nil {
		return err
	}
	failMu.Lock()
	defer failMu.Unlock()
	if len(failures) > 0 {
		return fmt.Errorf("background failures: %w", errors.Join(failures...))
	}
	if !equal {
		return errors.New("local state differs from the emulators'")
	}
	fmt.Println("  every local copy equals its emulator: true")
	return nil
}

// waitSettled waits until the side's emulator has delivered every
// notification and the Engine's workers have handled every one queued.
func waitSettled(ctx context.Context, s side, engine *calsync.Engine) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if err := s.idle(ctx); err != nil {
			return err
		}
		if st := engine.Stats(); st.Handled == st.Enqueued {
			// A delivery is acknowledged only once queued (Enqueued), and
			// the emulator was idle before this check, so nothing is left.
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// localEvents lists a calendar's stored events, rendered by render.
func localEvents(ctx context.Context, st calsync.Store, calID string, render func(calsync.Event) string) ([]string, error) {
	var out []string
	after := ""
	for {
		evs, err := st.ListEvents(ctx, calID, after, 100)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return out, nil
		}
		for _, e := range evs {
			out = append(out, render(e))
		}
		after = evs[len(evs)-1].ID
	}
}
