package googletest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	_ "time/tzdata" // recurring events need IANA zones on any host

	calendar "google.golang.org/api/calendar/v3"
)

// Server is an emulated Google Calendar API v3 with push channels, served
// by an httptest server. All methods are safe for concurrent use.
type Server struct {
	cfg      Config
	ts       *httptest.Server
	ctx      context.Context // ends when Close starts
	cancel   context.CancelFunc
	instance uint64 // stamps tokens: tokens of another Server are expired

	mu        sync.Mutex
	calendars map[string]*calendarState
	order     []string // calendar ids in the order added
	channels  map[string]*channel
	rng       *mrand.Rand // event ids and message numbers
	chaos     *mrand.Rand // the harsh defaults' choices, seeded by Config.Seed
	faults    []*Fault
	latency   time.Duration
	revoked   map[string]bool
	seen      map[string]bool
	idp       *idpState

	pmu        sync.Mutex // push state; never held while taking mu
	closed     bool
	queues     map[*channel]*pushQueue
	pending    int
	idle       chan struct{} // closed while pending == 0
	held       [][]*pushItem // by notification
	paused     bool
	parked     []*pushItem // queued while paused
	dropN      int
	dupN       int
	reorderK   int
	delay      time.Duration
	deliveries []Delivery

	rmu      sync.Mutex // request log
	requests []Request

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewServer starts an emulator on a loopback address. Close it when done.
// It panics if cfg is invalid, as httptest.NewServer panics when it cannot
// listen.
func NewServer(cfg Config) *Server {
	if err := cfg.validate(); err != nil {
		panic("googletest: invalid Config: " + err.Error())
	}
	cfg = cfg.WithDefaults()
	pc := *cfg.PushClient
	pc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.PushClient = &pc
	var seed [16]byte
	_, _ = rand.Read(seed[:8])
	s := &Server{
		cfg:       cfg,
		instance:  binary.BigEndian.Uint64(seed[:8]),
		calendars: map[string]*calendarState{},
		channels:  map[string]*channel{},
		// A fixed seed keeps event ids and message numbers reproducible.
		rng:     mrand.New(mrand.NewPCG(0x676f6f676c65, 0x74657374)),
		chaos:   mrand.New(mrand.NewPCG(cfg.Seed, 0x6861727368)),
		revoked: map[string]bool{},
		seen:    map[string]bool{},
		idp:     newIDP(),
		queues:  map[*channel]*pushQueue{},
		idle:    make(chan struct{}),
	}
	close(s.idle)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ts = httptest.NewServer(s.routes())
	return s
}

// URL returns the base URL of the server, e.g. "http://127.0.0.1:12345".
func (s *Server) URL() string { return s.ts.URL }

// Endpoint returns the API base URL for option.WithEndpoint:
// URL()+"/calendar/v3/".
func (s *Server) Endpoint() string { return s.ts.URL + "/calendar/v3/" }

// Client returns an HTTP client that sends "Authorization: Bearer
// googletest" with every request, for option.WithHTTPClient.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: bearerTransport{token: "googletest", base: s.ts.Client().Transport}}
}

type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// Close stops the server: API requests in progress are answered, pending
// and in-flight notifications are abandoned, and Close returns once every
// goroutine of the server has ended. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.pmu.Lock()
		s.closed = true
		s.held, s.parked = nil, nil
		s.pmu.Unlock()
		s.cancel()
		s.ts.Close()
		s.wg.Wait()
	})
}

// Operation names, for [Fault].Op.
const (
	OpEventsList       = "events.list"
	OpEventsGet        = "events.get"
	OpEventsInsert     = "events.insert"
	OpEventsPatch      = "events.patch"
	OpEventsUpdate     = "events.update"
	OpEventsDelete     = "events.delete"
	OpEventsImport     = "events.import"
	OpEventsInstances  = "events.instances"
	OpEventsWatch      = "events.watch"
	OpChannelsStop     = "channels.stop"
	OpCalendarListList = "calendarList.list"
	OpCalendarListGet  = "calendarList.get"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	const cal = "/calendar/v3/calendars/{calendarId}/events"
	mux.Handle("GET "+cal, s.api(OpEventsList, s.handleList))
	mux.Handle("POST "+cal, s.api(OpEventsInsert, s.handleInsert(false)))
	mux.Handle("POST "+cal+"/import", s.api(OpEventsImport, s.handleInsert(true)))
	mux.Handle("POST "+cal+"/watch", s.api(OpEventsWatch, s.handleWatch))
	mux.Handle("GET "+cal+"/{eventId}", s.api(OpEventsGet, s.handleGet))
	mux.Handle("PATCH "+cal+"/{eventId}", s.api(OpEventsPatch, s.handleWrite(true)))
	mux.Handle("PUT "+cal+"/{eventId}", s.api(OpEventsUpdate, s.handleWrite(false)))
	mux.Handle("DELETE "+cal+"/{eventId}", s.api(OpEventsDelete, s.handleDelete))
	mux.Handle("GET "+cal+"/{eventId}/instances", s.api(OpEventsInstances, s.handleInstances))
	mux.Handle("POST /calendar/v3/channels/stop", s.api(OpChannelsStop, s.handleStop))
	mux.Handle("GET /calendar/v3/users/me/calendarList", s.api(OpCalendarListList, s.handleCalendarListList))
	mux.Handle("GET /calendar/v3/users/me/calendarList/{calendarId}", s.api(OpCalendarListGet, s.handleCalendarListGet))
	mux.HandleFunc("GET /o/oauth2/auth", s.handleAuthorize)
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("POST /revoke", s.handleRevoke)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound())
	})
	return mux
}

// api wraps an operation: request log, latency, authentication, injected
// faults, revoked calendar access.
func (s *Server) api(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := &loggingWriter{ResponseWriter: rw, s: s, entry: Request{Op: op, CalendarID: r.PathValue("calendarId"), Time: s.cfg.Now()}}
		defer w.flush() // no answer: the client went away
		s.mu.Lock()
		latency := s.latency
		s.mu.Unlock()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.ctx.Done():
				t.Stop()
				writeError(w, newAPIError(http.StatusServiceUnavailable, "backendError", ""))
				return
			}
		}
		if e := s.authenticate(r, op); e != nil {
			writeError(w, e)
			return
		}
		if e := s.takeFault(op, r.PathValue("calendarId")); e != nil {
			s.cfg.Logger.Debug("googletest: injected fault", "op", op, "status", e.code, "reason", e.reason)
			writeError(w, e)
			return
		}
		s.mu.Lock()
		e := s.deniedLocked(r.PathValue("calendarId"))
		s.mu.Unlock()
		if e != nil {
			writeError(w, e)
			return
		}
		h(w, r)
	})
}

// authenticate requires "Authorization: Bearer <non-empty>" that was not
// revoked. A token issued by the identity provider must also be live
// (not expired, its grant not revoked) and carry a scope that allows op;
// any other token is accepted as is.
func (s *Server) authenticate(r *http.Request, op string) *apiError {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return newAPIError(http.StatusUnauthorized, "authError", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked[token] {
		return newAPIError(http.StatusUnauthorized, "authError", "")
	}
	s.seen[token] = true
	if e, ok := s.authenticateIDP(token, op); ok {
		return e
	}
	return nil
}

// calendar resolves a calendar id from a request; "primary" is the first
// calendar added. A deleted calendar is nil. The caller holds s.mu.
func (s *Server) calendar(id string) *calendarState {
	if id == "primary" {
		if c, ok := s.calendars[id]; ok && !c.deleted {
			return c
		}
		if len(s.order) == 0 {
			return nil
		}
		id = s.order[0]
	}
	if c := s.calendars[id]; c != nil && !c.deleted {
		return c
	}
	return nil
}

// newEventID returns a fresh 26-character base32hex id. The caller holds s.mu.
func (s *Server) newEventID(c *calendarState) string {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	for {
		b := make([]byte, 26)
		for i := range b {
			b[i] = digits[s.rng.IntN(32)]
		}
		if _, taken := c.rows[string(b)]; !taken {
			return string(b)
		}
	}
}

// changedLocked sends "exists" to every live channel of c, and to those
// stopped within Config.StopGrace; nothing while access to c is revoked.
// The caller holds s.mu.
func (s *Server) changedLocked(c *calendarState) {
	if c.denied != nil {
		return // the account cannot see the calendar any more
	}
	now := s.cfg.Now()
	ids := make([]string, 0, len(s.channels))
	for id, ch := range s.channels {
		if ch.CalendarID == c.id && ch.notified(now, s.cfg.StopGrace) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		s.notifyLocked(s.channels[id], "exists")
	}
}

// AddCalendar creates an empty calendar. timeZone is an IANA zone name
// ("" means "UTC"); it is the calendar's timeZone in events.list and the zone
// of all-day events. The first calendar added also answers to the keyword
// "primary". It fails for an unknown zone or an id already added.
func (s *Server) AddCalendar(id, timeZone string) error {
	if id == "" {
		return fmt.Errorf("googletest: empty calendar id")
	}
	if timeZone == "" {
		timeZone = "UTC"
	}
	loc, err := loadZone(timeZone)
	if err != nil {
		return fmt.Errorf("googletest: calendar %q: unknown time zone %q", id, timeZone)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.calendars[id]; ok {
		if c.deleted {
			return fmt.Errorf("googletest: calendar %q was deleted", id)
		}
		return fmt.Errorf("googletest: calendar %q already exists", id)
	}
	s.calendars[id] = newCalendar(id, timeZone, loc, s.cfg.Now().UTC().Truncate(time.Millisecond))
	s.order = append(s.order, id)
	return nil
}

// Events returns the calendar's current events as the official client
// decodes them, ordered by id: with singleEvents false the single events,
// recurring events and their exceptions; with singleEvents true the single
// events and the instances of recurring events. Cancelled events are left
// out (unlike events.list, which includes cancelled exceptions of a live
// recurring event when singleEvents is false), so the result is what a
// client's local copy should hold after a sync. The events are fresh copies
// owned by the caller.
func (s *Server) Events(calendarID string, singleEvents bool) ([]*calendar.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(calendarID)
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrCalendarNotFound, calendarID)
	}
	lq := &listQuery{single: singleEvents}
	var out []*calendar.Event
	for _, id := range c.sortedIDs() {
		r := c.rows[id]
		if r.cancelled || !c.match(r, lq) {
			continue
		}
		ev := new(calendar.Event)
		if err := json.Unmarshal(c.render(r), ev); err != nil {
			return nil, fmt.Errorf("googletest: event %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// InsertEvent creates an event as events.insert with conferenceDataVersion=1
// would, without HTTP, authentication, latency or faults: for seeding large
// calendars quickly. Live channels are notified as for any change. ev is not modified; the
// returned event is the stored resource. Errors are *googleapi.Error, as
// the official client would return them, or wrap ErrCalendarNotFound.
func (s *Server) InsertEvent(calendarID string, ev *calendar.Event) (*calendar.Event, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("googletest: insert: %w", err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("googletest: insert: %w", err)
	}
	out, e := s.insert(calendarID, body, writeOptions{conferenceDataVersion: 1})
	if e != nil {
		if e.code == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %q", ErrCalendarNotFound, calendarID)
		}
		return nil, e.googleapiError()
	}
	got := new(calendar.Event)
	if err := json.Unmarshal(out, got); err != nil {
		return nil, fmt.Errorf("googletest: insert: %w", err)
	}
	return got, nil
}

// ExpireSyncTokens invalidates every sync token and page token issued so far
// for calendarID: using a page token yields 410 fullSyncRequired with the
// envelope of Google's error guide, using a sync token that 410 or 400
// invalid "Invalid sync token value.", as Config.StaleSyncToken chooses.
func (s *Server) ExpireSyncTokens(calendarID string) error {
	return s.withCalendar(calendarID, func(c *calendarState) { c.epoch++ })
}
