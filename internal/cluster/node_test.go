//go:build !windows

package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/riverqueue"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/webhook"
)

// envNode carries a child's nodeConfig as JSON: TestClusterNode runs an
// instance only when it is set.
const envNode = "CALSYNC_CLUSTER_NODE"

// addrPrefix starts the stdout line on which a child tells the parent
// where its webhook handlers listen.
const addrPrefix = "CALSYNC-CLUSTER-NODE-ADDR "

// nodeConfig is what one instance needs: the shared PostgreSQL schema,
// the emulators' endpoints, and the Engine's periods (short, so that the
// periodic behaviour happens within a test run).
type nodeConfig struct {
	Name           string
	PostgresURL    string
	Schema         string
	GoogleEndpoint string
	GraphURL       string
	GraphCertPEM   string // the Graph emulator's TLS certificate

	Workers           int
	RenewBefore       time.Duration
	RenewInterval     time.Duration
	RetryInterval     time.Duration
	RetryUnit         time.Duration
	SafetyNetAfter    time.Duration
	SafetyNetInterval time.Duration
	DiscoverInterval  time.Duration
	RescueAfter       time.Duration
	LogLevel          slog.Level
}

// host is one instance: its pool on the shared schema, the store, the
// River queue, the Engine and the webhook handlers.
type host struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	queue  *riverqueue.Queue
	engine *calsync.Engine
	hooks  http.Handler
}

func graphToken(user string) string { return "graph-token-of-" + user }

var googleToken = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "cluster-google-token"})

// openHost opens an instance on nc's schema. The parent opens one too,
// to connect the calendars and read the store, but does not run it.
func openHost(ctx context.Context, nc nodeConfig) (*host, error) {
	pc, err := pgxpool.ParseConfig(nc.PostgresURL)
	if err != nil {
		return nil, err
	}
	pc.ConnConfig.RuntimeParams["search_path"] = nc.Schema
	pc.MaxConns = int32(nc.Workers + 6)
	h := &host{}
	if h.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, err
	}
	fail := func(err error) (*host, error) {
		h.pool.Close()
		return nil, err
	}
	if h.store, err = postgres.New(ctx, h.pool, &postgres.Config{Schema: nc.Schema}); err != nil {
		return fail(err)
	}
	if h.queue, err = riverqueue.New(ctx, h.pool, &riverqueue.Config{
		Schema:      nc.Schema,
		RescueAfter: nc.RescueAfter,
		River: func(c *river.Config) {
			c.ID = nc.Name // river_leader names the leader by it
			c.FetchCooldown = 20 * time.Millisecond
			c.FetchPollInterval = 100 * time.Millisecond
		},
	}); err != nil {
		return fail(err)
	}
	gprov, err := google.New(google.Config{
		Endpoint:    nc.GoogleEndpoint,
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return googleToken, nil },
	})
	if err != nil {
		return fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(nc.GraphCertPEM)) {
		return fail(errors.New("cluster: no certificate in the Graph emulator's PEM"))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	tr.MaxIdleConnsPerHost = 32
	lim, err := retry.NewLimiter(retry.GraphLimits(), nil)
	if err != nil {
		return fail(err)
	}
	mprov, err := msgraph.New(msgraph.Config{
		BaseURL: nc.GraphURL + "/v1.0",
		TokenSource: func(_ context.Context, account string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: graphToken(account)}), nil
		},
		HTTPClient: &http.Client{Transport: &retry.Transport{Base: &retry.LimitTransport{Limiter: lim, Base: tr}}},
	})
	if err != nil {
		return fail(err)
	}
	if h.engine, err = calsync.NewEngine(calsync.Config{
		Store:             h.store,
		Providers:         []calsync.Provider{gprov, mprov},
		Queue:             h.queue,
		Workers:           nc.Workers,
		RenewBefore:       nc.RenewBefore,
		RenewInterval:     nc.RenewInterval,
		RetryInterval:     nc.RetryInterval,
		RetryUnit:         nc.RetryUnit,
		SafetyNetAfter:    nc.SafetyNetAfter,
		SafetyNetInterval: nc.SafetyNetInterval,
		DiscoverInterval:  nc.DiscoverInterval,
		InstanceID:        nc.Name,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: nc.LogLevel})),
	}); err != nil {
		return fail(err)
	}
	g, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: h.engine})
	if err != nil {
		return fail(err)
	}
	m, err := webhook.NewGraph(webhook.GraphConfig{Sink: h.engine})
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/google", g)
	mux.Handle("POST /hooks/graph", m)
	mux.Handle("POST /hooks/graph-lifecycle", m)
	h.hooks = mux
	return h, nil
}

// TestClusterNode is one instance of the cluster, run by the parent test
// as a separate process (the test binary again, with envNode set). It
// serves the webhook handlers on a loopback port, prints the address and
// runs the Engine until SIGTERM or until the parent closes its stdin.
func TestClusterNode(t *testing.T) {
	raw := os.Getenv(envNode)
	if raw == "" {
		t.Skip("an instance of TestClusterOfThree's cluster; the parent test starts it")
	}
	var nc nodeConfig
	if err := json.Unmarshal([]byte(raw), &nc); err != nil {
		t.Fatalf("%s: %v", envNode, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		// The parent holds our stdin: when it goes, so do we.
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	h, err := openHost(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	defer h.pool.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.hooks, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("%s%s\n", addrPrefix, ln.Addr())
	err = h.engine.Run(ctx)
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: Run: %v", nc.Name, err)
	}
}
