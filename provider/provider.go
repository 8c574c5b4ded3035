package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Provider is what a calendar provider (Google, Microsoft Graph) implements.
// The calsync Engine drives it; host applications never call it directly.
//
// Implementations must be safe for concurrent use by multiple goroutines.
// Errors that the Engine branches on must wrap the sentinels of this package
// ([ErrFullSyncRequired], [ErrReauthRequired], [ErrSubscriptionGone],
// [ErrNotFound]) and should carry a [*Error] when they come from the
// provider's API.
type Provider interface {
	// Name is the provider's stable name ("google", "msgraph"). It is stored
	// with calendars and subscriptions and used to route notifications.
	Name() string

	// Watch creates a push subscription (a Google channel, a Graph
	// subscription) for cal that delivers notifications to req.Address.
	// The returned Subscription carries what the provider returned
	// (resource id, effective expiration) and the secret it will present on
	// every notification.
	Watch(ctx context.Context, cal Calendar, req WatchRequest) (*Subscription, error)

	// Stop ends a subscription created by Watch. Stopping a subscription the
	// provider no longer knows returns an error wrapping [ErrNotFound].
	Stop(ctx context.Context, cal Calendar, sub *Subscription) error

	// Fetch returns one page of changes for cal starting at pos.
	//
	// A zero pos.Cursor means a full sync: the provider lists every event of
	// the calendar. A non-empty pos.Cursor is an incremental sync from that
	// cursor. pos.PageToken continues a sync that returned a page with a
	// NextPageToken; the provider repeats the same query with it.
	//
	// When the cursor or the page token is no longer valid (HTTP 410) Fetch
	// returns an error wrapping [ErrFullSyncRequired].
	Fetch(ctx context.Context, cal Calendar, pos Position) (*Page, error)
}

// Calendar identifies one provider calendar that calsync keeps in sync.
type Calendar struct {
	// ID is the host application's key for the calendar, unique within a
	// Store. calsync never interprets it.
	ID string
	// Provider is the Name of the Provider that serves the calendar.
	Provider string
	// AccountID identifies the host's account (user) whose OAuth token is
	// used to call the provider.
	AccountID string
	// RemoteID is the provider's calendar id (Google: "primary" or the
	// calendar's email-like id; Graph: a calendar id, or "" for the user's
	// default calendar).
	RemoteID string
}

// WatchRequest says where and for how long a subscription should deliver.
type WatchRequest struct {
	// ID is the subscription id chosen by the caller, for providers whose ids
	// are client-chosen (Google channel ids). Providers that assign ids
	// themselves (Graph) ignore it.
	ID string
	// Secret is the shared secret the provider must present on every
	// notification (Google channel token, Graph clientState).
	Secret string
	// Address is the HTTPS URL that receives change notifications.
	Address string
	// LifecycleAddress receives lifecycle notifications (Graph only). If
	// empty, Address is used.
	LifecycleAddress string
	// TTL is the requested lifetime. Zero means the provider's default.
	// Providers clamp it to their documented maximum.
	TTL time.Duration
}

// Subscription is a push subscription: a Google channel or a Graph
// subscription.
//
// # Secrets
//
// A subscription is authenticated by a shared secret (Google channel
// token, Graph clientState) that the provider presents on every
// notification. Its plaintext is needed only once: the calsync Engine
// draws it, hands it to the provider's Watch in [WatchRequest].Secret,
// and from then on keeps only its SHA-256, SecretHash. That is what a
// Store persists and what the webhook handlers check a presented token
// against ([Subscription.VerifySecret], in constant time). So a
// Subscription read from a Store, or returned by the Engine, has an empty
// Secret; someone who reads the database cannot forge notifications.
// (The secrets are 256 random bits, so a plain SHA-256 cannot be reversed
// by guessing; a salt or a slow hash would only cost time on every
// notification.)
//
// Secret, where a provider's Watch sets it, must never be logged or shown:
// however a Subscription is printed (fmt, any verb, %#v included), logged
// (log/slog, any handler, alone or in a slice) or encoded (encoding/json),
// it appears as "[redacted]"; the field itself keeps its value for the
// code that needs it. SecretHash is shown only by %#v and encoding/json,
// so that a Store that keeps subscriptions as JSON keeps it.
type Subscription struct {
	// ID is the channel id (Google) or subscription id (Graph). It is what
	// notifications carry and what the webhook handlers look up.
	ID string
	// CalendarID is the calsync Calendar.ID the subscription feeds.
	CalendarID string
	// Provider is the provider's Name.
	Provider string
	// ResourceID is the provider's id of the watched resource (Google
	// resourceId, needed to stop the channel; Graph resource path).
	ResourceID string
	// ResourceURI is the provider's URI for the watched resource, if any.
	ResourceURI string
	// Address is the URL notifications are delivered to.
	Address string
	// LifecycleAddress is the URL lifecycle notifications are delivered to
	// (Graph only).
	LifecycleAddress string
	// Secret is the plaintext shared secret (Google channel token, Graph
	// clientState), set only on the Subscription a provider's Watch
	// returns. Stores do not keep it.
	Secret string
	// SecretHash is the SHA-256 of the secret ([HashSecret]): what Stores
	// keep and notifications are checked against. The zero value matches
	// no token.
	SecretHash [sha256.Size]byte
	// Expiration is when the provider stops delivering.
	Expiration time.Time
	// Created is when the subscription was created.
	Created time.Time
}

// redacted stands for a secret wherever a Subscription is shown.
const redacted = "[redacted]"

// String describes the subscription without its secret.
func (s Subscription) String() string {
	return fmt.Sprintf("subscription %s (%s, calendar %s, expires %s)", s.ID, s.Provider, s.CalendarID, s.Expiration.UTC().Format(time.RFC3339))
}

// subscriptionFields has Subscription's fields and none of its methods:
// what fmt and encoding/json show of it once its secret is redacted.
type subscriptionFields Subscription

// redact returns s's fields with the secret replaced by "[redacted]" (an
// empty one stays empty).
func (s Subscription) redact() subscriptionFields {
	if s.Secret != "" {
		s.Secret = redacted
	}
	return subscriptionFields(s)
}

// GoString returns the %#v form, the secret redacted.
func (s Subscription) GoString() string {
	return "provider.Subscription" + strings.TrimPrefix(fmt.Sprintf("%#v", s.redact()), "provider.subscriptionFields")
}

// Format implements [fmt.Formatter]: %#v prints GoString, every other verb
// formats String as a string (%q quotes it). Without it, verbs that fmt
// applies field by field (%d, %t …) would print the secret.
func (s Subscription) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalJSON implements [json.Marshaler]: the fields under their Go
// names, as encoding/json would give them, but the secret "[redacted]".
func (s Subscription) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.redact())
}

// LogValue implements [slog.LogValuer]; it leaves out the secret.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("provider", s.Provider),
		slog.String("calendar", s.CalendarID),
		slog.Time("expiration", s.Expiration),
	)
}

// HashSecret returns the SHA-256 of a subscription's secret: the form in
// which it is stored as [Subscription].SecretHash.
func HashSecret(secret string) [sha256.Size]byte {
	return sha256.Sum256([]byte(secret))
}

// VerifySecret reports whether token, as presented by a notification, is
// the secret whose hash s holds. It hashes token and compares the digests
// in constant time, so that neither how much of a guess matched nor the
// secret's length shows in the time it takes. An empty token never
// matches, nor does any token when s has no SecretHash.
func (s *Subscription) VerifySecret(token string) bool {
	if token == "" || s.SecretHash == [sha256.Size]byte{} {
		return false
	}
	h := hashToken(token)
	return subtle.ConstantTimeCompare(h[:], s.SecretHash[:]) == 1
}

// maxStackToken is the longest token hashToken copies to the stack: more
// than any secret the Engine draws (64 hex digits) and than the webhook
// handlers let through (webhook.MaxIDLength).
const maxStackToken = 256

// hashToken is HashSecret without its heap allocation: []byte(token)
// escapes to the heap for any string over 32 bytes, and VerifySecret runs
// on the webhook handlers' acknowledgement path for every notification.
// Only the presented token's length, which its sender knows, picks the
// branch.
func hashToken(token string) [sha256.Size]byte {
	if len(token) > maxStackToken {
		return HashSecret(token)
	}
	var buf [maxStackToken]byte
	return sha256.Sum256(append(buf[:0], token...))
}

// Expired reports whether the subscription has expired at now.
func (s *Subscription) Expired(now time.Time) bool {
	return !s.Expiration.IsZero() && !now.Before(s.Expiration)
}

// Position is where a sync starts: a cursor and, inside a multi-page sync,
// a page token.
type Position struct {
	// Cursor is the incremental-sync cursor (Google nextSyncToken, Graph
	// deltaLink). Empty means full sync.
	Cursor string
	// PageToken continues a sync (Google pageToken, Graph nextLink).
	PageToken string
}

// Page is one page of changes returned by Fetch. Exactly one of
// NextPageToken and NextCursor is set.
type Page struct {
	// Changes are the page's changes, in provider order.
	Changes []Change
	// NextPageToken continues the sync; more pages follow.
	NextPageToken string
	// NextCursor is set on the last page: the cursor for the next
	// incremental sync.
	NextCursor string
}

// Last reports whether p is the last page of a sync.
func (p *Page) Last() bool { return p.NextPageToken == "" }

// ChangeOp is the kind of a Change.
type ChangeOp uint8

// The change operations.
const (
	// Upsert creates or replaces an event.
	Upsert ChangeOp = iota + 1
	// Delete removes an event.
	Delete
)

// String returns "upsert" or "delete".
func (op ChangeOp) String() string {
	switch op {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("ChangeOp(%d)", uint8(op))
}

// Change is one change to one event.
type Change struct {
	// Op is Upsert or Delete.
	Op ChangeOp
	// EventID is the provider's event id.
	EventID string
	// Event is the event for an Upsert. For a Delete it carries whatever the
	// provider sent with the deletion (at least the id; for a cancelled
	// occurrence of a recurring event also RecurringEventID and
	// OriginalStart), or nil.
	Event *Event
}

// Event is a calendar event in provider-neutral form.
type Event struct {
	// ID is the provider's event id, unique within the calendar.
	ID string
	// CalendarID is the calsync Calendar.ID the event belongs to.
	CalendarID string
	// Status is confirmed, tentative or cancelled.
	Status Status
	// Summary is the event's title (Google summary, Graph subject).
	Summary string
	// Start and End bound the event; End is exclusive.
	Start, End EventTime
	// RecurringEventID is, for an occurrence of a recurring event, the id of
	// the series.
	RecurringEventID string
	// OriginalStart is, for an occurrence, its start time according to the
	// recurrence rule; it identifies the occurrence even when moved.
	OriginalStart *EventTime
	// Recurrence holds the RFC 5545 RRULE, EXRULE, RDATE and EXDATE lines
	// of a series: Google's recurrence as it is; Graph's
	// patternedRecurrence converted to one RRULE line (see the msgraph
	// package documentation).
	Recurrence []string
	// ICalUID is the RFC 5545 UID, shared by the occurrences of a series.
	ICalUID string
	// ETag is the provider's entity tag for this version of the event.
	ETag string
	// Updated is the provider's last-modification time; stores use it for
	// last-write-wins.
	Updated time.Time
	// Version is a counter the Store increments on each write of the event.
	// Providers leave it zero.
	Version int64
	// Details are the normalized descriptive fields: description,
	// location, availability, visibility, organizer, attendees, meeting
	// URL, web link, creation time.
	Details EventDetails
	// Raw is the event as the provider sent it (JSON).
	Raw json.RawMessage
}

// Clone returns a deep copy of e: the copy shares no memory with e (Raw,
// Recurrence, OriginalStart and Details.Attendees are copied), so either
// can be modified without changing the other. Stores use it to keep what
// they are given and hand out what they keep.
func (e Event) Clone() Event {
	e.Raw = slices.Clone(e.Raw)
	e.Recurrence = slices.Clone(e.Recurrence)
	e.Details = e.Details.Clone()
	if e.OriginalStart != nil {
		o := *e.OriginalStart
		e.OriginalStart = &o
	}
	return e
}

// EventTime is the start or end of an event: a date for all-day events, an
// instant otherwise.
type EventTime struct {
	// Date is the day of an all-day event, "2006-01-02"; empty otherwise.
	Date string
	// DateTime is the instant of a timed event; zero for all-day events.
	DateTime time.Time
	// TimeZone is the IANA time zone the event is expressed in, if any.
	TimeZone string
}

// AllDay reports whether t is a date rather than an instant.
func (t EventTime) AllDay() bool { return t.Date != "" }

// IsZero reports whether t is unset.
func (t EventTime) IsZero() bool { return t.Date == "" && t.DateTime.IsZero() && t.TimeZone == "" }

// String formats t as a date or an RFC 3339 instant.
func (t EventTime) String() string {
	if t.Date != "" {
		return t.Date
	}
	if t.DateTime.IsZero() {
		return ""
	}
	return t.DateTime.Format(time.RFC3339)
}
