package google_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/sqlite"
)

// The full-sync memory measurement (BENCHMARKS.md, "Full sync memory").
//
// The emulator keeps the whole calendar in memory, so it runs in this
// (parent) process, and every measured sync runs in a child process: the
// test binary re-executed with -test.run=^TestFullSyncMemoryChild$. A child
// does what a host app does (google.New, sqlite.Open, calsync.NewEngine,
// Engine.Connect, which subscribes and runs the full sync) and writes a
// memReport. The baseline child does exactly the same against a calendar
// of one event, so the difference isolates what the events cost.
//
// Nothing about memory or time is asserted: the numbers are logged (run
// with -v) and go to BENCHMARKS.md. The test asserts only that every sync
// stored the emulator's calendar.
const (
	envMemTest    = "CALSYNC_MEMTEST"      // "1" runs TestFullSyncMemory
	envMemRuns    = "CALSYNC_MEMTEST_RUNS" // rounds of children (default 1)
	envMemEvents  = "CALSYNC_MEMTEST_EVENTS"
	envMemProfile = "CALSYNC_MEMTEST_PPROF" // directory for the children's heap profiles
	envMemChild   = "CALSYNC_MEMTEST_CHILD" // JSON memChildConfig: set only in children

	memBigCalendar   = "big@example.com"
	memOneCalendar   = "one@example.com"
	memDefaultEvents = 100_000
	memSeries        = 10 // of the events, this many are weekly recurring series
)

// memChildConfig tells a child what to sync and where to report.
type memChildConfig struct {
	Endpoint string // emulator API endpoint
	Hook     string // webhook address for events.watch
	Calendar string
	PageSize int
	DB       string // SQLite file (new)
	Report   string // where the child writes its memReport (JSON)
	Profile  string // if set, a heap profile (inuse at the end of the sync)
}

// memReport is what a child measured. Sizes are bytes unless named KiB.
type memReport struct {
	Calendar string
	PageSize int
	Pages    int   // OnChange calls: one per committed page
	Applied  int64 // changes committed (Engine.Stats)
	Changes  int64 // changes handed to OnChange
	Wall     time.Duration

	SetupRSSKiB int64 // VmRSS after setup, before Connect
	VmHWMKiB    int64 // peak RSS of the child's address space (/proc/self/status)
	MaxrssKiB   int64 // getrusage(RUSAGE_SELF).ru_maxrss

	HeapPeak    uint64 // max sampled /memory/classes/heap/objects:bytes
	GoMapped    uint64 // max sampled Go runtime memory (total minus released)
	HeapGoalMax uint64 // max sampled /gc/heap/goal:bytes
	NumGC       uint64
}

// TestFullSyncMemory measures the peak memory of a full sync of a large
// Google calendar into the SQLite Store. It runs only with
// CALSYNC_MEMTEST=1.
func TestFullSyncMemory(t *testing.T) {
	if os.Getenv(envMemTest) != "1" {
		t.Skipf("set %s=1 to measure full-sync memory (BENCHMARKS.md, \"Full sync memory\")", envMemTest)
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/status: Linux only")
	}
	n := envInt(t, envMemEvents, memDefaultEvents)
	runs := envInt(t, envMemRuns, 1)
	profDir := os.Getenv(envMemProfile)

	// The webhook receiver only answers the channel's "sync" message.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	emu := googletest.NewServer(googletest.Config{AllowHTTP: true, PushRetries: -1})
	t.Cleanup(emu.Close)
	for _, id := range []string{memBigCalendar, memOneCalendar} {
		if err := emu.AddCalendar(id, "Europe/Berlin"); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	seedMemCalendar(t, emu, memBigCalendar, n)
	seedMemCalendar(t, emu, memOneCalendar, 1)
	t.Logf("seeded %d events in %v", n, time.Since(start).Round(time.Millisecond))

	want := map[string][]*calendar.Event{}
	for _, id := range []string{memBigCalendar, memOneCalendar} {
		evs, err := emu.Events(id, false)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = evs
	}
	if got := len(want[memBigCalendar]); got != n {
		t.Fatalf("emulator lists %d events, seeded %d", got, n)
	}

	type job struct {
		name     string
		calendar string
		pageSize int
	}
	jobs := []job{
		{"baseline (1 event)", memOneCalendar, 250},
		{fmt.Sprintf("%d events, page 250", n), memBigCalendar, 250},
		{fmt.Sprintf("%d events, page 2500", n), memBigCalendar, 2500},
	}
	results := make([][]memReport, len(jobs))
	dir := t.TempDir()
	for r := range runs {
		for j, jb := range jobs {
			cfg := memChildConfig{
				Endpoint: emu.Endpoint(),
				Hook:     hook.URL + "/hooks/google",
				Calendar: jb.calendar,
				PageSize: jb.pageSize,
				DB:       filepath.Join(dir, fmt.Sprintf("run%d-job%d.db", r, j)),
				Report:   filepath.Join(dir, fmt.Sprintf("run%d-job%d.json", r, j)),
			}
			if profDir != "" {
				cfg.Profile = filepath.Join(profDir, fmt.Sprintf("heap-%s-page%d-run%d.pprof", strings.Split(jb.calendar, "@")[0], jb.pageSize, r))
			}
			parentHWM := procStatusKiB(t, "VmHWM")
			rep, outsideKiB := runMemChild(t, cfg)
			checkSynced(t, cfg.DB, jb.calendar, want[jb.calendar], rep)
			t.Logf("run %d, %s: VmHWM %s, ru_maxrss %s (as seen by the parent %s; parent's own VmHWM %s), heap peak %s, Go mapped %s, heap goal %s, setup RSS %s, %d pages, %d GCs, %v",
				r+1, jb.name, kib(rep.VmHWMKiB), kib(rep.MaxrssKiB), kib(outsideKiB), kib(parentHWM), mib(rep.HeapPeak), mib(rep.GoMapped),
				mib(rep.HeapGoalMax), kib(rep.SetupRSSKiB), rep.Pages, rep.NumGC, rep.Wall.Round(time.Millisecond))
			results[j] = append(results[j], rep)
			if err := os.Remove(cfg.DB); err != nil {
				t.Log(err)
			}
		}
	}

	// Medians over the runs.
	var b strings.Builder
	fmt.Fprintf(&b, "medians of %d run(s), GOMAXPROCS=%d:\n", runs, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "| sync | peak RSS (VmHWM) | Go heap peak | Go runtime mapped | wall |\n")
	base := medianReport(results[0])
	for j, jb := range jobs {
		m := medianReport(results[j])
		fmt.Fprintf(&b, "| %s | %s (+%s) | %s | %s | %v |\n", jb.name,
			kib(m.VmHWMKiB), kib(m.VmHWMKiB-base.VmHWMKiB), mib(m.HeapPeak), mib(m.GoMapped), m.Wall.Round(time.Millisecond))
	}
	t.Log(b.String())
}

// runMemChild runs one child and returns its report and the ru_maxrss the
// kernel reported to the parent for it.
func runMemChild(t *testing.T, cfg memChildConfig) (memReport, int64) {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullSyncMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envMemChild+"="+string(js))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child %s page %d: %v\n%s", cfg.Calendar, cfg.PageSize, err, out.String())
	}
	var outside int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		outside = ru.Maxrss
	}
	b, err := os.ReadFile(cfg.Report)
	if err != nil {
		t.Fatalf("child %s page %d wrote no report: %v\n%s", cfg.Calendar, cfg.PageSize, err, out.String())
	}
	var rep memReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, outside
}

// checkSynced asserts that the child's SQLite file holds exactly the
// emulator's events: every id, and the fields of a sample.
func checkSynced(t *testing.T, db, calendarID string, want []*calendar.Event, rep memReport) {
	t.Helper()
	if rep.Applied != int64(len(want)) || rep.Changes != int64(len(want)) {
		t.Errorf("%s: sync applied %d changes, OnChange saw %d, emulator has %d events", calendarID, rep.Applied, rep.Changes, len(want))
	}
	st, err := sqlite.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	state, err := st.SyncState(t.Context(), calendarID)
	if err != nil {
		t.Fatal(err)
	}
	if state.Cursor == "" || state.PageToken != "" {
		t.Errorf("%s: sync state %+v: want a cursor and no page token", calendarID, state)
	}
	var got []calsync.Event
	after := ""
	for {
		page, err := st.ListEvents(t.Context(), calendarID, after, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if len(got) != len(want) {
		t.Fatalf("%s: store has %d events, emulator %d", calendarID, len(got), len(want))
	}
	// Both are ordered by id (byte order).
	step := max(1, len(want)/200)
	for i, w := range want {
		g := got[i]
		if g.ID != w.Id {
			t.Fatalf("%s: event %d: store has %q, emulator %q", calendarID, i, g.ID, w.Id)
		}
		if i%step != 0 && i != len(want)-1 {
			continue
		}
		if g.Summary != w.Summary || g.ETag != w.Etag || string(g.Status) != w.Status ||
			!slices.Equal(g.Recurrence, w.Recurrence) || g.ICalUID != w.ICalUID {
			t.Errorf("%s: event %s: store %+v, emulator %+v", calendarID, w.Id, g, w)
		}
		if u, err := time.Parse(time.RFC3339Nano, w.Updated); err != nil || !u.Equal(g.Updated) {
			t.Errorf("%s: event %s: updated %v, emulator %q", calendarID, w.Id, g.Updated, w.Updated)
		}
		if !sameTime(g.Start, w.Start) || !sameTime(g.End, w.End) {
			t.Errorf("%s: event %s: start/end %+v/%+v, emulator %+v/%+v", calendarID, w.Id, g.Start, g.End, w.Start, w.End)
		}
		var raw calendar.Event
		if err := json.Unmarshal(g.Raw, &raw); err != nil || raw.Id != w.Id || raw.Description != w.Description || raw.Location != w.Location {
			t.Errorf("%s: event %s: raw JSON does not match the emulator's event (%v)", calendarID, w.Id, err)
		}
	}
}

func sameTime(g calsync.EventTime, w *calendar.EventDateTime) bool {
	if w.Date != "" {
		return g.Date == w.Date
	}
	d, err := time.Parse(time.RFC3339Nano, w.DateTime)
	return err == nil && d.Equal(g.DateTime) && g.TimeZone == w.TimeZone
}

// TestFullSyncMemoryChild is the measured process of TestFullSyncMemory.
func TestFullSyncMemoryChild(t *testing.T) {
	js := os.Getenv(envMemChild)
	if js == "" {
		t.Skip("child process of TestFullSyncMemory")
	}
	var cfg memChildConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Setup, as a host app does it.
	prov, err := google.New(google.Config{
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "memtest"}), nil
		},
		// No retries and no rate limiter: the default client's 600
		// requests/minute limiter would pace the 400 pages of a page size
		// of 250 and make the wall time measure the limiter.
		HTTPClient: &http.Client{},
		Endpoint:   cfg.Endpoint,
		PageSize:   cfg.PageSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, cfg.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep := memReport{Calendar: cfg.Calendar, PageSize: cfg.PageSize}
	engine, err := calsync.NewEngine(calsync.Config{
		Store:     st,
		Providers: []calsync.Provider{prov},
		OnChange: func(_ context.Context, _ calsync.Calendar, cs []calsync.Change) {
			rep.Pages++
			rep.Changes += int64(len(cs))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.SetupRSSKiB = procStatusKiB(t, "VmRSS")

	// The sync, with the Go heap sampled every millisecond.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sampleGoMemory(&rep, stop)
	}()
	cal := calsync.Calendar{ID: cfg.Calendar, Provider: google.Name, AccountID: "memtest", RemoteID: cfg.Calendar}
	start := time.Now()
	if _, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: cfg.Hook}); err != nil {
		t.Fatal(err)
	}
	rep.Wall = time.Since(start)
	close(stop)
	wg.Wait()

	if cfg.Profile != "" {
		f, err := os.Create(cfg.Profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := engine.Sync(ctx, cfg.Calendar) // incremental: nothing new
	if err != nil {
		t.Fatal(err)
	}
	if res.Full || res.Applied != 0 {
		t.Fatalf("sync after the full sync: %+v, want an empty incremental sync", res)
	}
	if s := engine.Stats(); s.FullSyncs != 1 {
		t.Fatalf("engine ran %d full syncs, want 1", s.FullSyncs)
	} else {
		rep.Applied = s.Changes
	}
	rep.VmHWMKiB = procStatusKiB(t, "VmHWM")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	rep.MaxrssKiB = ru.Maxrss
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Report, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sampleGoMemory records the peaks of the Go heap and of the memory the Go
// runtime holds from the OS until stop is closed.
func sampleGoMemory(rep *memReport, stop <-chan struct{}) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var gc0 uint64
	for i := 0; ; i++ {
		metrics.Read(samples)
		rep.HeapPeak = max(rep.HeapPeak, samples[0].Value.Uint64())
		rep.GoMapped = max(rep.GoMapped, samples[1].Value.Uint64()-samples[2].Value.Uint64())
		rep.HeapGoalMax = max(rep.HeapGoalMax, samples[3].Value.Uint64())
		if i == 0 {
			gc0 = samples[4].Value.Uint64()
		}
		rep.NumGC = samples[4].Value.Uint64() - gc0
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// procStatusKiB reads a "VmXxx: N kB" line of /proc/self/status.
func procStatusKiB(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/status has no %s", field)
	return 0
}

// seedMemCalendar inserts n events: n-memSeries one-off events (timed in
// UTC or a zone, or all-day; varied summaries, descriptions and locations)
// and memSeries weekly series. The generator is seeded, so every run
// syncs the same calendar (event ids come from the emulator's own seeded
// generator).
func seedMemCalendar(t *testing.T, emu *googletest.Server, calendarID string, n int) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(uint64(n), 0x6d656d))
	words := strings.Fields(`planning review sync standup retro design budget hiring interview
		launch roadmap offsite lunch dentist gym flight hotel dinner call demo workshop
		training onboarding audit release incident postmortem quarterly weekly one-on-one`)
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	series := min(memSeries, n/1000) // none in the baseline's calendar
	for i := range n {
		ev := &calendar.Event{
			Summary: fmt.Sprintf("%s %s %d", words[rng.IntN(len(words))], words[rng.IntN(len(words))], i),
		}
		if rng.IntN(10) < 4 {
			var d strings.Builder
			for range rng.IntN(60) {
				d.WriteString(words[rng.IntN(len(words))])
				d.WriteByte(' ')
			}
			ev.Description = d.String()
		}
		if rng.IntN(10) < 3 {
			ev.Location = fmt.Sprintf("Room %d, building %c", rng.IntN(500), 'A'+rune(rng.IntN(6)))
		}
		start := base.Add(time.Duration(rng.IntN(3*365*24*4)) * 15 * time.Minute)
		end := start.Add(time.Duration(1+rng.IntN(16)) * 15 * time.Minute)
		switch k := rng.IntN(10); {
		case i < series:
			loc, _ := time.LoadLocation("America/New_York")
			ev.Start = &calendar.EventDateTime{DateTime: start.In(loc).Format(time.RFC3339), TimeZone: "America/New_York"}
			ev.End = &calendar.EventDateTime{DateTime: end.In(loc).Format(time.RFC3339), TimeZone: "America/New_York"}
			ev.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=52"}
		case k == 0:
			ev.Start = &calendar.EventDateTime{Date: start.Format(time.DateOnly)}
			ev.End = &calendar.EventDateTime{Date: start.AddDate(0, 0, 1+rng.IntN(3)).Format(time.DateOnly)}
		case k < 4:
			z := zones[rng.IntN(len(zones))]
			loc, _ := time.LoadLocation(z)
			ev.Start = &calendar.EventDateTime{DateTime: start.In(loc).Format(time.RFC3339), TimeZone: z}
			ev.End = &calendar.EventDateTime{DateTime: end.In(loc).Format(time.RFC3339), TimeZone: z}
		default:
			ev.Start = &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)}
			ev.End = &calendar.EventDateTime{DateTime: end.Format(time.RFC3339)}
		}
		if _, err := emu.InsertEvent(calendarID, ev); err != nil {
			t.Fatalf("seed event %d: %v", i, err)
		}
	}
}

func medianReport(rs []memReport) memReport {
	med := func(f func(memReport) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	return memReport{
		VmHWMKiB: med(func(r memReport) int64 { return r.VmHWMKiB }),
		HeapPeak: uint64(med(func(r memReport) int64 { return int64(r.HeapPeak) })),
		GoMapped: uint64(med(func(r memReport) int64 { return int64(r.GoMapped) })),
		Wall:     time.Duration(med(func(r memReport) int64 { return int64(r.Wall) })),
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func kib(n int64) string  { return fmt.Sprintf("%.1f MiB", float64(n)/1024) }
func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
