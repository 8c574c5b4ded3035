//go:build !windows

package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/internal/pgtest"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// calendar is one connected calendar as the harness knows it.
type calendar struct {
	cal calsync.Calendar
	// subKey names the calendar in the emulator's request log: the
	// Google calendar id, or "user/graph calendar id" for Graph.
	subKey string
	mu     sync.Mutex // changes to one calendar are made one at a time
}

func (c *calendar) google() bool { return c.cal.Provider == google.Name }

// world is the test process's side of a cluster: PostgreSQL, both
// emulators, the load balancer and the instances (child processes).
type world struct {
	t      testing.TB
	ctx    context.Context
	nc     nodeConfig // the instances' template
	admin  *pgxpool.Pool
	host   *host // the parent's Engine on the shared store: connects, never runs
	gemu   *googletest.Server
	gapi   *gcal.Service
	memu   *msgraphtest.Server
	lb     *httptest.Server
	lbHTTP *http.Client
	ttl    time.Duration // requested subscription lifetime

	backends atomic.Pointer[[]string] // instance addresses, dead ones included
	nodes    []*node
	cals     []*calendar

	rmu sync.Mutex
	rng *rand.Rand
}

// node is one instance: a child process.
type node struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.Closer
	addr   string
	log    *tail
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// tail keeps the last lines a child wrote to stderr, for failure reports.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (l *tail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines = append(l.lines, line)
	}
	if len(l.lines) > 200 {
		l.lines = l.lines[len(l.lines)-200:]
	}
	return len(p), nil
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// worldConfig sizes a cluster.
type worldConfig struct {
	calendars int           // half Google, half Graph
	accounts  int           // Google accounts, and as many Graph mailboxes
	ttl       time.Duration // subscription lifetime requested at connect
	node      nodeConfig    // periods; the rest is filled in
}

func newWorld(t testing.TB, ctx context.Context, wc worldConfig) *world {
	t.Helper()
	pg := pgtest.URL(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CALSYNC_CLUSTER_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CALSYNC_CLUSTER_SEED: %v", err)
		}
	}
	w := &world{t: t, ctx: ctx, ttl: wc.ttl, rng: rand.New(rand.NewPCG(seed, 7))}
	w.nc = wc.node
	w.nc.PostgresURL = pg
	w.nc.Schema = fmt.Sprintf("cluster_%d", time.Now().UnixNano())
	t.Logf("schema %s; the changes follow CALSYNC_CLUSTER_SEED=%d", w.nc.Schema, seed)

	var err error
	if w.admin, err = pgxpool.New(ctx, pg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("CALSYNC_CLUSTER_KEEP_SCHEMA") != "" {
			t.Logf("schema %s kept (CALSYNC_CLUSTER_KEEP_SCHEMA)", w.nc.Schema)
			w.admin.Close()
			return
		}
		if _, err := w.admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{w.nc.Schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", w.nc.Schema, err)
		}
		w.admin.Close()
	})
	if _, err := w.admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{w.nc.Schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	// The load balancer: HTTPS, as the providers require; the instances
	// behind it speak plain HTTP on loopback.
	w.backends.Store(new([]string))
	w.lbHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	w.lb = httptest.NewUnstartedServer(http.HandlerFunc(w.forward))
	w.lb.Config.ErrorLog = log.New(io.Discard, "", 0)
	w.lb.StartTLS()
	t.Cleanup(w.lb.Close)

	w.gemu = googletest.NewServer(googletest.Config{PushClient: w.lb.Client()})
	t.Cleanup(w.gemu.Close)
	if w.gapi, err = gcal.NewService(ctx, option.WithEndpoint(w.gemu.Endpoint()), option.WithHTTPClient(w.gemu.Client())); err != nil {
		t.Fatal(err)
	}
	w.memu = msgraphtest.NewServer(msgraphtest.Config{NotificationClient: w.lb.Client()})
	t.Cleanup(w.memu.Close)
	w.nc.GoogleEndpoint = w.gemu.Endpoint()
	w.nc.GraphURL = w.memu.URL()
	w.nc.GraphCertPEM = peerCertificate(t, w.memu.URL())

	// The parent's host migrates the schema before any instance starts.
	pnc := w.nc
	pnc.Name = "parent"
	pnc.LogLevel = slog.LevelError + 4 // silent: its errors come back as Connect's
	if w.host, err = openHost(ctx, pnc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.host.pool.Close)
	w.addCalendars(wc.calendars, wc.accounts)
	return w
}

// peerCertificate returns, as PEM, the certificate the TLS server at u
// presents, for the instances to trust.
func peerCertificate(t testing.TB, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", pu.Host, &tls.Config{InsecureSkipVerify: true}) // only to read the certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.Fatalf("%s presented no certificate", u)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0].Raw}))
}

// forward is the load balancer: each request goes to an instance chosen
// at random, and to another when that one refuses the connection (it is
// dead). Other failures are answered 502, as a load balancer does, and
// the emulators retry them.
func (w *world) forward(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(rw, "cannot read the request", http.StatusBadRequest)
		return
	}
	addrs := *w.backends.Load()
	w.rmu.Lock()
	order := w.rng.Perm(len(addrs))
	w.rmu.Unlock()
	for _, i := range order {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addrs[i]+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := w.lbHTTP.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue
		}
		if err != nil {
			http.Error(rw, "instance failed", http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			rw.Header()[k] = v
		}
		rw.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(rw, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(rw, "no instance is up", http.StatusServiceUnavailable)
}

// addCalendars creates n calendars in the emulators, half Google and
// half Graph, spread over accounts accounts of each, each with one event.
func (w *world) addCalendars(n, accounts int) {
	t := w.t
	ng := n / 2
	nm := n - ng
	for i := range ng {
		acct := fmt.Sprintf("g%02d@example.com", i%accounts)
		id := fmt.Sprintf("g%02d-cal%03d@example.com", i%accounts, i)
		if err := w.gemu.AddCalendar(id, "UTC"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.gemu.InsertEvent(id, googleEvent(w.summary(), w.day())); err != nil {
			t.Fatal(err)
		}
		w.cals = append(w.cals, &calendar{cal: calsync.Calendar{ID: id, Provider: google.Name, AccountID: acct, RemoteID: id}, subKey: id})
	}
	for i := range accounts {
		user := fmt.Sprintf("m%02d", i)
		w.memu.AddUser(user)
		w.memu.MapToken(graphToken(user), user)
	}
	seen := map[string]bool{}
	for i := range nm {
		user := fmt.Sprintf("m%02d", i%accounts)
		// msgraph subscribes to a primary calendar as "me/events", which
		// the emulator logs without a calendar.
		c := &calendar{cal: calsync.Calendar{ID: user + "/primary", Provider: msgraph.Name, AccountID: user}, subKey: user + "/"}
		if seen[user] {
			remote := fmt.Sprintf("cal%03d", i)
			w.memu.AddCalendar(user, remote)
			c.cal.ID, c.cal.RemoteID, c.subKey = user+"/"+remote, remote, user+"/"+remote
		}
		seen[user] = true
		if _, err := w.memu.CreateEvent(user, c.cal.RemoteID, graphEvent(w.summary(), w.day())); err != nil {
			t.Fatal(err)
		}
		w.cals = append(w.cals, c)
	}
}

func (w *world) summary() string {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return fmt.Sprintf("meeting %d", w.rng.IntN(1_000_000))
}

// day is a time between 1 and 60 days ahead: inside Graph's calendarView
// window, whenever the sync runs.
func (w *world) day() time.Time {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return time.Now().UTC().Truncate(time.Hour).Add(time.Duration(24+w.rng.IntN(60*24)) * time.Hour)
}

func googleEvent(summary string, start time.Time) *gcal.Event {
	return &gcal.Event{
		Summary: summary,
		Start:   &gcal.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:     &gcal.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339)},
	}
}

func graphEvent(subject string, start time.Time) msgraphtest.Event {
	return msgraphtest.Event{Subject: subject, Start: start, End: start.Add(time.Hour)}
}

// startNodes starts n instances and waits until each listens.
func (w *world) startNodes(n int) {
	for range n {
		w.startNode(fmt.Sprintf("node-%d", len(w.nodes)+1))
	}
}

func (w *world) startNode(name string) *node {
	t := w.t
	nc := w.nc
	nc.Name = name
	raw, err := json.Marshal(nc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterNode$", "-test.timeout=15m")
	cmd.Env = append(os.Environ(), envNode+"="+string(raw))
	nd := &node{name: name, cmd: cmd, log: &tail{}, exited: make(chan struct{})}
	cmd.Stderr = nd.log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	nd.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), addrPrefix); ok {
				addr <- a
			} else {
				_, _ = nd.log.Write([]byte(sc.Text()))
			}
		}
		nd.err = cmd.Wait()
		close(nd.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-nd.exited:
		default:
			_ = cmd.Process.Kill()
			<-nd.exited
		}
		if t.Failed() {
			t.Logf("%s's last log lines:\n%s", name, nd.log)
		}
	})
	select {
	case nd.addr = <-addr:
	case <-nd.exited:
		t.Fatalf("%s exited before listening (%v):\n%s", name, nd.err, nd.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within a minute:\n%s", name, nd.log)
	}
	w.nodes = append(w.nodes, nd)
	next := append(append([]string(nil), *w.backends.Load()...), nd.addr)
	w.backends.Store(&next)
	return nd
}

// kill ends nd with SIGKILL, as a crash does, and waits for it to go.
func (w *world) kill(nd *node) {
	if err := nd.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		w.t.Fatalf("kill %s: %v", nd.name, err)
	}
	<-nd.exited
}

// stop ends nd with SIGTERM, as a deploy does, and fails unless it
// drains and exits cleanly within deadline.
func (w *world) stop(nd *node, deadline time.Duration) {
	select {
	case <-nd.exited:
		return
	default:
	}
	if err := nd.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		w.t.Errorf("SIGTERM %s: %v", nd.name, err)
	}
	select {
	case <-nd.exited:
		if nd.err != nil {
			w.t.Errorf("%s exited with %v after SIGTERM:\n%s", nd.name, nd.err, nd.log)
		}
	case <-time.After(deadline):
		w.t.Errorf("%s still running %v after SIGTERM", nd.name, deadline)
		_ = nd.cmd.Process.Kill()
		<-nd.exited
	}
}

// leader returns the instance River elected leader, nil if none is.
func (w *world) leader() *node {
	var id string
	err := w.admin.QueryRow(w.ctx, `SELECT leader_id FROM `+w.table("river_leader")+` WHERE expires_at > now()`).Scan(&id)
	if err != nil {
		return nil
	}
	for _, nd := range w.nodes {
		if nd.name == id {
			return nd
		}
	}
	return nil
}

func (w *world) table(name string) string { return pgx.Identifier{w.nc.Schema, name}.Sanitize() }

// connectAll connects every calendar through the parent's Engine, with
// workers at a time. Graph validates each notification URL through the
// load balancer, so the instances must be up.
func (w *world) connectAll(workers int) {
	t := w.t
	work := make(chan *calendar)
	errs := make(chan error, len(w.cals))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range work {
				req := calsync.ConnectRequest{Address: w.lb.URL + "/hooks/google", TTL: w.ttl}
				if !c.google() {
					req = calsync.ConnectRequest{Address: w.lb.URL + "/hooks/graph", LifecycleAddress: w.lb.URL + "/hooks/graph-lifecycle", TTL: w.ttl}
				}
				if _, err := w.host.engine.Connect(w.ctx, c.cal, req); err != nil {
					errs <- fmt.Errorf("connect %s: %w", c.cal.ID, err)
				}
			}
		})
	}
	for _, c := range w.cals {
		work <- c
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// change makes one random change (insert, update or delete of an event)
// to a random calendar through the emulator, which pushes it.
func (w *world) change() error {
	w.rmu.Lock()
	c := w.cals[w.rng.IntN(len(w.cals))]
	k := w.rng.IntN(10)
	pick := w.rng.Int()
	w.rmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.google() {
		evs, err := w.gemu.Events(c.cal.RemoteID, false)
		if err != nil {
			return err
		}
		var live []*gcal.Event
		for _, ev := range evs {
			if ev.Status != "cancelled" {
				live = append(live, ev)
			}
		}
		switch {
		case k < 4 || len(live) == 0:
			_, err = w.gemu.InsertEvent(c.cal.RemoteID, googleEvent(w.summary(), w.day()))
		case k < 8:
			_, err = w.gapi.Events.Patch(c.cal.RemoteID, live[pick%len(live)].Id, &gcal.Event{Summary: w.summary()}).Context(w.ctx).Do()
		default:
			err = w.gapi.Events.Delete(c.cal.RemoteID, live[pick%len(live)].Id).Context(w.ctx).Do()
		}
		return err
	}
	evs, err := w.graphEvents(c)
	if err != nil {
		return err
	}
	switch {
	case k < 4 || len(evs) == 0:
		_, err = w.memu.CreateEvent(c.cal.AccountID, c.cal.RemoteID, graphEvent(w.summary(), w.day()))
	case k < 8:
		ev := evs[pick%len(evs)]
		ev.Subject = w.summary()
		_, err = w.memu.UpdateEvent(c.cal.AccountID, c.cal.RemoteID, ev.ID, ev)
	default:
		err = w.memu.DeleteEvent(c.cal.AccountID, c.cal.RemoteID, evs[pick%len(evs)].ID)
	}
	return err
}

// graphEvents returns what the calendar's calendarView window holds.
func (w *world) graphEvents(c *calendar) ([]msgraphtest.Event, error) {
	now := time.Now()
	return w.memu.Events(c.cal.AccountID, c.cal.RemoteID, now.Add(-msgraph.DefaultWindowBefore), now.Add(msgraph.DefaultWindowAfter))
}

// burst makes n changes, workers at a time; after half of them it calls
// midway (if not nil).
func (w *world) burst(n, workers int, midway func()) {
	var made atomic.Int64
	var once sync.Once
	work := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range work {
				if err := w.change(); err != nil {
					errs <- err
				}
				if made.Add(1) >= int64(n/2) && midway != nil {
					once.Do(midway)
				}
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		w.t.Errorf("change: %v", err)
	}
}

// waitPushes waits until both emulators have delivered every push.
func (w *world) waitPushes() {
	if err := w.gemu.WaitIdle(w.ctx); err != nil {
		w.t.Fatalf("Google emulator's pushes: %v", err)
	}
	if err := w.memu.WaitIdle(w.ctx); err != nil {
		w.t.Fatalf("Graph emulator's notifications: %v", err)
	}
}

// poll calls cond every interval until it returns true or the deadline
// passes (then it fails with what cond last said).
func (w *world) poll(what string, deadline time.Duration, cond func() (bool, string)) {
	w.t.Helper()
	end := time.Now().Add(deadline)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			w.t.Fatalf("%s: not so after %v: %s", what, deadline, why)
		}
		select {
		case <-w.ctx.Done():
			w.t.Fatalf("%s: %v (%s)", what, w.ctx.Err(), why)
		case <-tick.C:
		}
	}
}

// jobCounts counts River jobs by state in the given queues (all if
// none).
func (w *world) jobCounts(queues ...string) map[string]int {
	q := `SELECT state::text, count(*) FROM ` + w.table("river_job")
	args := []any{}
	if len(queues) > 0 {
		q += ` WHERE queue = ANY($1)`
		args = append(args, queues)
	}
	rows, err := w.admin.Query(w.ctx, q+` GROUP BY state`, args...)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			w.t.Fatal(err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// differences compares every calendar's stored events with its
// emulator's (ids and titles; deleted events must be gone) and describes
// up to max differing calendars.
func (w *world) differences(max int) (n int, desc []string) {
	for _, c := range w.cals {
		var want []string
		if c.google() {
			evs, err := w.gemu.Events(c.cal.RemoteID, false)
			if err != nil {
				w.t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Status != "cancelled" {
					want = append(want, ev.Id+" "+ev.Summary)
				}
			}
		} else {
			evs, err := w.graphEvents(c)
			if err != nil {
				w.t.Fatal(err)
			}
			for _, ev := range evs {
				want = append(want, ev.ID+" "+ev.Subject)
			}
		}
		var got []string
		evs, err := w.host.store.ListEvents(w.ctx, c.cal.ID, "", 10000)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, ev := range evs {
			got = append(got, ev.ID+" "+ev.Summary)
		}
		if !sameSet(got, want) {
			n++
			if len(desc) < max {
				desc = append(desc, fmt.Sprintf("%s: stored %v, emulator %v", c.cal.ID, got, want))
			}
		}
	}
	return n, desc
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s]--; m[s] < 0 {
			return false
		}
	}
	return true
}

// subscriptionTimes returns, per calendar (subKey), when the emulator
// accepted each creation or renewal of its subscription: Google's
// successful events.watch, Graph's subscription create and update.
func (w *world) subscriptionTimes() map[string][]time.Time {
	out := map[string][]time.Time{}
	for _, r := range w.gemu.Requests() {
		if r.Op == googletest.OpEventsWatch && r.Status == http.StatusOK {
			out[r.CalendarID] = append(out[r.CalendarID], r.Time)
		}
	}
	for _, r := range w.memu.Requests() {
		if (r.Op == msgraphtest.OpCreateSubscription || r.Op == msgraphtest.OpUpdateSubscription) && r.Status/100 == 2 {
			k := r.User + "/" + r.CalendarID
			out[k] = append(out[k], r.Time)
		}
	}
	return out
}

// feedCount returns how many changes the store has committed (the
// change feed's entries).
func (w *world) feedCount() int {
	var n int
	if err := w.admin.QueryRow(w.ctx, `SELECT count(*) FROM `+w.table("feed")).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}
