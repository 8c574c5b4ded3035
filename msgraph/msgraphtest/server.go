package msgraphtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	_ "time/tzdata" // recurrence time zones on any host
)

// Server is an emulated Microsoft Graph v1.0 (subscriptions, change and
// lifecycle notifications, event delta), served over TLS by an httptest
// server. All methods are safe for concurrent use.
type Server struct {
	cfg    Config
	ts     *httptest.Server
	ctx    context.Context // ends when Close starts
	cancel context.CancelFunc
	key    []byte // signs delta tokens; differs per Server

	mu          sync.Mutex
	users       map[string]*mailbox
	userOrder   []string
	subs        map[string]*subscription
	deleted     map[string]*subscription // deleted, still delivering until lingerUntil
	rng         *mrand.Rand              // ids: reproducible whatever the knobs
	chaos       *mrand.Rand              // multiplicity and throttling choices, from Config.Seed
	faults      []*Fault
	latency     time.Duration
	revoked     map[string]bool
	seen        map[string]bool
	tokenUser   map[string]string
	maxLifetime time.Duration
	timeoutsN   int            // validations left to time out
	inflight    map[string]int // API requests in flight per mailbox
	requests    []Request
	oauth       oauthState

	dmu        sync.Mutex // delivery state; never held while taking mu
	closed     bool
	queues     map[string]*deliveryQueue
	idle       chan struct{} // closed while no delivery queue is busy
	dropN      int
	dropAll    bool
	dupN       int
	delay      time.Duration
	deliveries []Delivery

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewServer starts an emulator on a loopback TLS address. Close it when
// done. It panics if cfg is invalid, as httptest.NewServer panics when it
// cannot listen.
func NewServer(cfg Config) *Server {
	if err := cfg.validate(); err != nil {
		panic("msgraphtest: invalid Config: " + err.Error())
	}
	cfg = cfg.WithDefaults()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := &Server{
		cfg:   cfg,
		key:   key,
		users: map[string]*mailbox{},
		subs:  map[string]*subscription{},
		// A fixed seed keeps ids reproducible between runs.
		rng:         mrand.New(mrand.NewPCG(0x6d7367726170, 0x68746573)),
		chaos:       mrand.New(mrand.NewPCG(cfg.Seed, 0x63686173)),
		deleted:     map[string]*subscription{},
		revoked:     map[string]bool{},
		seen:        map[string]bool{},
		tokenUser:   map[string]string{},
		maxLifetime: cfg.MaxSubscriptionLifetime,
		inflight:    map[string]int{},
		queues:      map[string]*deliveryQueue{},
		idle:        make(chan struct{}),
		oauth: oauthState{
			clients: map[string]*oauthClient{},
			codes:   map[string]*authCode{},
			refresh: map[string]*refreshToken{},
			access:  map[string]*accessToken{},
		},
	}
	close(s.idle)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL returns the base URL of the server, e.g. "https://127.0.0.1:12345".
// The Graph API lives under URL()+"/v1.0" (and URL()+"/beta").
func (s *Server) URL() string { return s.ts.URL }

// Client returns an HTTP client that trusts the server's certificate. It
// sends no Authorization header; add "Authorization: Bearer <any>" per
// request or through an authentication provider.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close stops the server: API requests in progress are answered, pending
// and in-flight notifications are abandoned, and Close returns once every
// goroutine of the server has ended. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.dmu.Lock()
		s.closed = true
		s.updateIdleLocked()
		for _, q := range s.queues {
			if q.timer != nil {
				q.timer.Stop()
			}
		}
		s.dmu.Unlock()
		s.cancel()
		s.ts.Close()
		s.wg.Wait()
	})
}

// MapToken makes requests with "Authorization: Bearer <bearer>" act as
// userID when they say "me". Without a mapping, "me" is the first user
// added with [Server.AddUser].
func (s *Server) MapToken(bearer, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenUser[bearer] = userID
}

// Operation names, for [Fault].Op.
const (
	OpCreateSubscription      = "subscriptions.create"
	OpListSubscriptions       = "subscriptions.list"
	OpGetSubscription         = "subscriptions.get"
	OpUpdateSubscription      = "subscriptions.update"
	OpDeleteSubscription      = "subscriptions.delete"
	OpReauthorizeSubscription = "subscriptions.reauthorize"
	OpDelta                   = "event.delta"
	OpCreateEvent             = "event.create"
	OpGetEvent                = "event.get"
	OpUpdateEvent             = "event.update"
	OpDeleteEvent             = "event.delete"
	OpListCalendars           = "calendars.list"
	OpGetMailboxSettings      = "mailboxSettings.get"
)

// request is one parsed API request.
type request struct {
	version string   // "v1.0" or "beta"
	segs    []string // path after the version, "delta()" normalised to "delta"
	token   string   // bearer
	me      string   // user "me" stands for
	log     *Request // what Requests reports; handlers may fill in User and Calendar
	issued  bool     // the token was issued by the identity platform (oauth.go)
	scopes  []string // its scopes
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveOAuth(w, r) {
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	version, rest, _ := strings.Cut(path, "/")
	rec := &statusWriter{ResponseWriter: w}
	log := &Request{Method: r.Method, Version: version, Path: r.URL.Path, Time: s.cfg.Now()}
	defer func() { s.logRequest(log, rec) }()
	w = rec
	if version != "v1.0" && version != "beta" {
		s.writeError(w, r, newAPIError(http.StatusNotFound, "BadRequest", "Invalid version."))
		return
	}
	var segs []string
	if rest != "" {
		segs = strings.Split(rest, "/")
	}
	for i, sg := range segs {
		if strings.EqualFold(sg, "delta()") {
			segs[i] = "delta"
		}
	}
	req := &request{version: version, segs: segs, log: log}
	op, t, h := s.route(r.Method, req)
	log.Op = op
	if h == nil {
		s.writeError(w, r, newAPIError(http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Resource not found for the segment '%s'.", lastSeg(segs))))
		return
	}
	if e := s.authenticate(r, req); e != nil {
		s.writeError(w, r, e)
		return
	}
	log.User = req.me
	if e := permit(req, op); e != nil {
		s.writeError(w, r, e)
		return
	}
	if t != nil {
		if t.owner != "" {
			log.User = t.owner
		}
		log.CalendarID = s.calendarName(log.User, t.calendar)
	}
	release, e := s.acquire(log.User)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	defer release()
	if !s.wait(r) {
		return
	}
	if e := s.takeFault(op); e != nil {
		s.cfg.Logger.Debug("msgraphtest: injected fault", "op", op, "status", e.status, "code", e.code)
		s.writeError(w, r, e)
		return
	}
	if e := h(w, r, req); e != nil {
		s.writeError(w, r, e)
	}
}

func lastSeg(segs []string) string {
	if len(segs) == 0 {
		return ""
	}
	return segs[len(segs)-1]
}

type handler func(w http.ResponseWriter, r *http.Request, req *request) *apiError

// route maps a method and path to an operation and, for paths under /me
// and /users/{id}, the mailbox and calendar they name.
func (s *Server) route(method string, req *request) (string, *target, handler) {
	segs := req.segs
	if len(segs) >= 1 && strings.EqualFold(segs[0], "subscriptions") {
		switch {
		case len(segs) == 1 && method == http.MethodGet:
			return OpListSubscriptions, nil, s.handleListSubscriptions
		case len(segs) == 1 && method == http.MethodPost:
			return OpCreateSubscription, nil, s.handleCreateSubscription
		case len(segs) == 2 && method == http.MethodGet:
			return OpGetSubscription, nil, s.handleGetSubscription
		case len(segs) == 2 && method == http.MethodPatch:
			return OpUpdateSubscription, nil, s.handleUpdateSubscription
		case len(segs) == 2 && method == http.MethodDelete:
			return OpDeleteSubscription, nil, s.handleDeleteSubscription
		case len(segs) == 3 && method == http.MethodPost && strings.EqualFold(segs[2], "reauthorize"):
			return OpReauthorizeSubscription, nil, s.handleReauthorize
		}
		return "", nil, nil
	}
	owner, rest, ok := splitOwner(segs)
	if !ok {
		return "", nil, nil
	}
	switch {
	case len(rest) == 1 && eq(rest[0], "calendars") && method == http.MethodGet:
		return OpListCalendars, &target{owner: owner}, s.listCalendarsHandler(owner)
	case len(rest) == 1 && eq(rest[0], "mailboxSettings") && method == http.MethodGet:
		return OpGetMailboxSettings, &target{owner: owner}, s.mailboxSettingsHandler(owner)
	}
	cal, rest, ok := splitCalendar(rest)
	if !ok {
		return "", nil, nil
	}
	t := &target{owner: owner, calendar: cal}
	switch {
	case len(rest) == 2 && eq(rest[0], "calendarView") && eq(rest[1], "delta") && method == http.MethodGet:
		return OpDelta, t, s.deltaHandler(t, kindCalendarView)
	case len(rest) == 2 && eq(rest[0], "events") && eq(rest[1], "delta") && method == http.MethodGet:
		return OpDelta, t, s.deltaHandler(t, kindEvents)
	case len(rest) == 1 && eq(rest[0], "events") && method == http.MethodPost:
		return OpCreateEvent, t, s.eventHandler(t, "")
	case len(rest) == 2 && eq(rest[0], "events"):
		switch method {
		case http.MethodGet:
			return OpGetEvent, t, s.eventHandler(t, rest[1])
		case http.MethodPatch:
			return OpUpdateEvent, t, s.eventHandler(t, rest[1])
		case http.MethodDelete:
			return OpDeleteEvent, t, s.eventHandler(t, rest[1])
		}
	}
	return "", nil, nil
}

func eq(a, b string) bool { return strings.EqualFold(a, b) }

// target names a mailbox ("" = me) and a calendar ("" = any calendar of
// the mailbox for /events, the primary one otherwise; primaryCalendar for
// /calendar).
type target struct {
	owner    string
	calendar string
}

const primaryCalendar = "\x00primary"

func splitOwner(segs []string) (owner string, rest []string, ok bool) {
	switch {
	case len(segs) >= 1 && eq(segs[0], "me"):
		return "", segs[1:], true
	case len(segs) >= 2 && eq(segs[0], "users") && segs[1] != "":
		return segs[1], segs[2:], true
	}
	return "", nil, false
}

func splitCalendar(segs []string) (cal string, rest []string, ok bool) {
	switch {
	case len(segs) >= 1 && eq(segs[0], "calendar"):
		return primaryCalendar, segs[1:], true
	case len(segs) >= 2 && eq(segs[0], "calendars") && segs[1] != "":
		return segs[1], segs[2:], true
	case len(segs) >= 1 && eq(segs[0], "calendars"):
		return "", nil, false
	}
	return "", segs, true
}

// wait applies SetLatency; it reports false if the request ended.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency <= 0 {
		return true
	}
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.ctx.Done():
		return true
	}
}

// authenticate requires "Authorization: Bearer <non-empty>" that was not
// revoked, and resolves "me": the signed-in user of a token the identity
// platform issued (which must not be expired or revoked), else the user
// MapToken gives the token, else the first user.
func (s *Server) authenticate(r *http.Request, req *request) *apiError {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return newAPIError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked[token] {
		return newAPIError(http.StatusUnauthorized, "InvalidAuthenticationToken", "")
	}
	s.seen[token] = true
	req.token = token
	if issued, e := s.authenticateIssuedLocked(token, req); issued {
		return e
	}
	req.me = s.tokenUser[token]
	if req.me == "" && len(s.userOrder) > 0 {
		req.me = s.userOrder[0]
	}
	return nil
}

// newGUID returns a random-looking, reproducible GUID.
func (s *Server) newGUID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guidLocked()
}

func (s *Server) guidLocked() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *Server) randBytesLocked(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	return b
}

// sign returns a MAC of data under the server's key.
func (s *Server) sign(data []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(data)
	return m.Sum(nil)[:12]
}

// Time formats of Graph.
const (
	// odataTime is Edm.DateTimeOffset as Graph writes it: 7 fractional
	// digits, Z, as in the subscription resource's examples.
	odataTime = "2006-01-02T15:04:05.0000000Z07:00"
	// localTime is dateTimeTimeZone.dateTime, as calendarView delta writes it.
	localTime = "2006-01-02T15:04:05.0000000"
)

func fmtTime(t time.Time) string { return t.UTC().Format(odataTime) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// base returns the absolute API root of r, e.g. https://127.0.0.1:1/v1.0.
func (s *Server) base(req *request) string { return s.ts.URL + "/" + req.version }
