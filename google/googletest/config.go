package googletest

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults and limits. The Google values are Google's documented or
// observed ones, as each says; the others are the emulator's own choices.
const (
	// DefaultPushTimeout is the timeout of the default Config.PushClient.
	DefaultPushTimeout = 10 * time.Second
	// DefaultPushRetries is how many times a notification is retried after
	// a 500, 502, 503 or 504 answer. Google documents that it retries with
	// exponential backoff but not how often (push guide).
	DefaultPushRetries = 3
	// DefaultPushBackoff is the wait before the first retry; it doubles on
	// every further retry.
	DefaultPushBackoff = 50 * time.Millisecond
	// DefaultMaxTTL is the longest channel lifetime. Google documents no
	// ceiling; third-party evidence points to 30 days, and longer requests
	// are shortened silently, not rejected.
	DefaultMaxTTL = 30 * 24 * time.Hour
	// DefaultTTL is the channel lifetime when the watch request sets neither
	// expiration nor params.ttl: 604800 s
	// (https://developers.google.com/workspace/calendar/api/v3/reference/events/watch).
	DefaultTTL = 7 * 24 * time.Hour

	// DefaultPageSize and MaxPageSize are events.list's default and largest
	// maxResults; larger values are lowered to MaxPageSize
	// (https://developers.google.com/workspace/calendar/api/v3/reference/events/list).
	DefaultPageSize = 250
	MaxPageSize     = 2500

	// MaxInstances caps how many instances one recurring event expands to,
	// and ExpansionHorizon caps how far: instances starting more than
	// ExpansionHorizon after the later of the series start and the time the
	// series was last written are not materialised. Google expands
	// unbounded rules lazily; an emulator must stop somewhere.
	MaxInstances     = 730
	ExpansionHorizon = 2 * 365 * 24 * time.Hour

	// MaxChannelIDLength and MaxChannelTokenLength are Google's limits on a
	// channel's id and token (push guide).
	MaxChannelIDLength    = 64
	MaxChannelTokenLength = 256

	// DefaultMaxPushesPerChange is how many pushes one change may cause on
	// one channel by default: each change sends 1 to 3 at random. Google
	// does not promise one push per change, and users see several
	// (googleapis/google-api-java-client-services#20532).
	DefaultMaxPushesPerChange = 3
	// DefaultStopGrace is how long after channels.stop a channel still
	// receives the pushes of new changes by default. Google says nothing of
	// the kind, but stopped channels have been seen delivering for a short
	// while; the length is the emulator's choice.
	DefaultStopGrace = 5 * time.Second
	// DefaultSeed seeds the random choices of the harsh defaults when
	// Config.Seed is zero, so that every run makes the same choices.
	DefaultSeed uint64 = 0x63616c73796e63

	// PushUserAgent is the User-Agent of every notification, as recorded
	// from Google.
	PushUserAgent = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"

	// maxBodyBytes limits request bodies.
	maxBodyBytes = 1 << 20
)

// StaleTokenAnswer is how the server answers a sync token it no longer
// accepts (see [Config.StaleSyncToken]).
type StaleTokenAnswer int

// The answers to a stale sync token. Google documents 410 fullSyncRequired
// but also answers some stale or invalidated tokens with 400 reason
// "invalid", message "Invalid sync token value."; a client must run a full
// sync on both.
const (
	// StaleTokenDefault is the zero value: StaleTokenMixed, or
	// StaleToken410 when Config.Exact is set.
	StaleTokenDefault StaleTokenAnswer = iota
	// StaleTokenMixed answers each request with 400 or 410 at random.
	StaleTokenMixed
	// StaleToken410 always answers 410 fullSyncRequired (C.4).
	StaleToken410
	// StaleToken400 always answers 400 invalid "Invalid sync token value.".
	StaleToken400
)

// String returns the name of the constant.
func (a StaleTokenAnswer) String() string {
	switch a {
	case StaleTokenDefault:
		return "StaleTokenDefault"
	case StaleTokenMixed:
		return "StaleTokenMixed"
	case StaleToken410:
		return "StaleToken410"
	case StaleToken400:
		return "StaleToken400"
	}
	return fmt.Sprintf("StaleTokenAnswer(%d)", int(a))
}

// Config configures a [Server]. The zero value is ready to use and as harsh
// as Google by default: several pushes per change, 400 or 410 for a stale
// sync token, pushes after channels.stop. Set Exact (or the knob concerned)
// in tests that count exactly.
type Config struct {
	// Now returns the current time. It stamps created/updated times,
	// channel expirations and decides whether a channel is still live.
	// Waits (latency, notification delay, retry backoff) use real time.
	// Default: time.Now.
	Now func() time.Time

	// PushClient delivers notifications. Use the Client() of an
	// httptest.NewTLSServer receiver so its certificate is trusted. The
	// server uses a copy that does not follow redirects: a 3xx answer is a
	// failed delivery, since Google documents only its success codes.
	// Default: a client with a DefaultPushTimeout (10 s) timeout.
	PushClient *http.Client

	// AllowHTTP lets events.watch accept an http:// address. Google only
	// delivers to HTTPS addresses (push guide), so by default a
	// non-https address fails with HTTP 400. Default: false.
	AllowHTTP bool

	// PushRetries is how many times a notification is retried after the
	// receiver answers 500, 502, 503 or 504, with exponential backoff from
	// PushBackoff. Google's real counts are undocumented. 0 means
	// DefaultPushRetries (3); a negative value disables retries.
	PushRetries int

	// PushBackoff is the wait before the first retry; it doubles for each
	// further retry. Default: DefaultPushBackoff (50 ms).
	PushBackoff time.Duration

	// MaxTTL is the longest channel lifetime; longer requests are shortened
	// silently. Default: DefaultMaxTTL (30 days).
	MaxTTL time.Duration

	// DefaultTTL is the channel lifetime when a watch request sets neither
	// expiration nor params.ttl; like any request it is shortened to MaxTTL.
	// Default: DefaultTTL (7 days).
	DefaultTTL time.Duration

	// Exact turns the harsh defaults into exact ones for tests that count:
	// a zero MaxPushesPerChange means 1, a zero StopGrace means none, and
	// a zero StaleSyncToken means StaleToken410. Fields set explicitly win.
	// Default: false.
	Exact bool

	// MaxPushesPerChange is the largest number of pushes one change sends
	// to each channel: every change sends between 1 and MaxPushesPerChange
	// at random (seeded by Seed), each a message of its own with its own
	// message number. 1 sends exactly one. The "sync" message is always a
	// single push. Default: DefaultMaxPushesPerChange (3), or 1 when Exact
	// is set.
	MaxPushesPerChange int

	// StaleSyncToken chooses the answer to a sync token that expired
	// (Server.ExpireSyncTokens) or was issued by another Server. A
	// malformed token is always 400 invalid, an expired page token always
	// 410. Default: StaleTokenMixed, or StaleToken410 when Exact is set.
	StaleSyncToken StaleTokenAnswer

	// StopGrace is how long (by Now) after channels.stop a stopped channel
	// still receives the pushes of new changes: a change made within
	// StopGrace of the stop notifies it as if it were live. A negative
	// value turns late pushes off. Default: DefaultStopGrace (5 s), or none
	// when Exact is set.
	StopGrace time.Duration

	// DeliverQueuedAfterStop delivers the pushes made before channels.stop
	// that were still queued, delayed or being retried when the stop came.
	// By default they are dropped when their turn comes (logged in
	// Server.Deliveries with Dropped and Stopped set): a change announced
	// only on a channel that is stopped before the push goes out is never
	// delivered, as when a renewal stops the old channel. Default: false.
	DeliverQueuedAfterStop bool

	// Seed seeds the random choices of MaxPushesPerChange,
	// StaleTokenMixed and the gaps between message numbers, so that a
	// failing run can be reproduced. Event ids do not depend on it.
	// Default: DefaultSeed.
	Seed uint64

	// Logger receives debug logs about requests and deliveries. Channel
	// tokens and bearer tokens are never logged. Default: silent.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PushClient == nil {
		c.PushClient = &http.Client{Timeout: DefaultPushTimeout}
	}
	if c.PushRetries == 0 {
		c.PushRetries = DefaultPushRetries
	} else if c.PushRetries < 0 {
		c.PushRetries = -1
	}
	if c.PushBackoff == 0 {
		c.PushBackoff = DefaultPushBackoff
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.DefaultTTL == 0 {
		c.DefaultTTL = DefaultTTL
	}
	if c.MaxPushesPerChange == 0 {
		c.MaxPushesPerChange = DefaultMaxPushesPerChange
		if c.Exact {
			c.MaxPushesPerChange = 1
		}
	}
	if c.StaleSyncToken == StaleTokenDefault {
		c.StaleSyncToken = StaleTokenMixed
		if c.Exact {
			c.StaleSyncToken = StaleToken410
		}
	}
	if c.StopGrace == 0 {
		c.StopGrace = DefaultStopGrace
		if c.Exact {
			c.StopGrace = -1
		}
	}
	if c.StopGrace < 0 {
		c.StopGrace = -1
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.PushBackoff < 0 {
		errs = append(errs, fmt.Errorf("PushBackoff %v is negative", c.PushBackoff))
	}
	if c.MaxTTL < 0 {
		errs = append(errs, fmt.Errorf("MaxTTL %v is negative", c.MaxTTL))
	}
	if c.DefaultTTL < 0 {
		errs = append(errs, fmt.Errorf("DefaultTTL %v is negative", c.DefaultTTL))
	}
	if c.MaxPushesPerChange < 0 {
		errs = append(errs, fmt.Errorf("MaxPushesPerChange %d is negative", c.MaxPushesPerChange))
	}
	if c.StaleSyncToken < StaleTokenDefault || c.StaleSyncToken > StaleToken400 {
		errs = append(errs, fmt.Errorf("StaleSyncToken %v is not one of the StaleToken constants", c.StaleSyncToken))
	}
	return errors.Join(errs...)
}
