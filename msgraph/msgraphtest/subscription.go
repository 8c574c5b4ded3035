package msgraphtest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Subscription is a subscription as [Server.Subscriptions] reports it.
type Subscription struct {
	ID                        string
	Resource                  string // as the client sent it
	ChangeType                string // e.g. "created,updated,deleted"
	NotificationURL           string
	LifecycleNotificationURL  string
	ClientState               string
	ExpirationDateTime        time.Time
	ApplicationID             string
	CreatorID                 string
	LatestSupportedTLSVersion string
	// User and Calendar are what Resource names; Calendar "" means every
	// calendar of the mailbox (/events).
	User     string
	Calendar string
	// ReauthorizationRequired is set by SendLifecycle(...,
	// LifecycleReauthorizationRequired) and cleared by reauthorize or
	// renewal.
	ReauthorizationRequired bool
}

type subscription struct {
	Subscription
	changeTypes []string
	lingerUntil time.Time // set once deleted: notifications until then
}

// subscriptionURLs returns the URLs of a live subscription, naming it in
// the request log; ok is false if there is none.
func (s *Server) subscriptionURLs(req *request, id string) (notificationURL, lifecycleURL string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.liveSubLocked(id)
	if sub == nil {
		return "", "", false
	}
	req.about(sub)
	return sub.NotificationURL, sub.LifecycleNotificationURL, true
}

// about names sub's mailbox and calendar in the request log.
func (req *request) about(sub *subscription) {
	req.log.User, req.log.CalendarID = sub.User, sub.Calendar
}

// wireSubscription is Graph's subscription resource
// (https://learn.microsoft.com/en-us/graph/api/resources/subscription).
type wireSubscription struct {
	ODataType                 string  `json:"@odata.type,omitempty"`
	ID                        string  `json:"id,omitempty"`
	Resource                  string  `json:"resource"`
	ApplicationID             string  `json:"applicationId"`
	ChangeType                string  `json:"changeType"`
	ClientState               *string `json:"clientState"`
	NotificationURL           string  `json:"notificationUrl"`
	NotificationQueryOptions  *string `json:"notificationQueryOptions"`
	LifecycleNotificationURL  *string `json:"lifecycleNotificationUrl"`
	ExpirationDateTime        string  `json:"expirationDateTime"`
	CreatorID                 string  `json:"creatorId"`
	IncludeResourceData       *bool   `json:"includeResourceData"`
	LatestSupportedTLSVersion string  `json:"latestSupportedTlsVersion"`
	EncryptionCertificate     *string `json:"encryptionCertificate"`
	EncryptionCertificateID   *string `json:"encryptionCertificateId"`
	NotificationURLAppID      *string `json:"notificationUrlAppId"`
	NotificationContentType   string  `json:"notificationContentType,omitempty"`
}

func (sub *subscription) wire() wireSubscription {
	f := false
	w := wireSubscription{
		ID:                        sub.ID,
		Resource:                  sub.Resource,
		ApplicationID:             sub.ApplicationID,
		ChangeType:                sub.ChangeType,
		NotificationURL:           sub.NotificationURL,
		ExpirationDateTime:        fmtTime(sub.ExpirationDateTime),
		CreatorID:                 sub.CreatorID,
		IncludeResourceData:       &f,
		LatestSupportedTLSVersion: sub.LatestSupportedTLSVersion,
		NotificationContentType:   "application/json",
	}
	if sub.ClientState != "" {
		cs := sub.ClientState
		w.ClientState = &cs
	}
	if sub.LifecycleNotificationURL != "" {
		l := sub.LifecycleNotificationURL
		w.LifecycleNotificationURL = &l
	}
	return w
}

// subscriptionInput is the body of POST and PATCH /subscriptions.
type subscriptionInput struct {
	ChangeType                *string `json:"changeType"`
	NotificationURL           *string `json:"notificationUrl"`
	LifecycleNotificationURL  *string `json:"lifecycleNotificationUrl"`
	Resource                  *string `json:"resource"`
	ExpirationDateTime        *string `json:"expirationDateTime"`
	ClientState               *string `json:"clientState"`
	LatestSupportedTLSVersion *string `json:"latestSupportedTlsVersion"`
	IncludeResourceData       *bool   `json:"includeResourceData"`
}

// Subscriptions returns the live subscriptions (not expired, not deleted),
// ordered by id, as copies.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	var out []Subscription
	for _, sub := range s.subs {
		if sub.ExpirationDateTime.After(now) {
			out = append(out, sub.Subscription)
		}
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// liveSubLocked returns a live subscription; an expired one is deleted,
// as Graph deletes subscriptions that were not renewed in time.
func (s *Server) liveSubLocked(id string) *subscription {
	sub := s.subs[id]
	if sub == nil {
		return nil
	}
	if !sub.ExpirationDateTime.After(s.cfg.Now()) {
		delete(s.subs, id)
		return nil
	}
	return sub
}

func errSubNotFound(id string) *apiError {
	// Graph answers an unknown subscription id with 404 ResourceNotFound
	// (Microsoft documents only the 404; the code is the one live Graph
	// has been reported to send, its generic not-found code).
	return newAPIError(http.StatusNotFound, "ResourceNotFound", "The object was not found.")
}

// readBody reads a request body of at most maxBodyBytes, gunzipping it
// when Content-Encoding is gzip (kiota's default middleware compresses
// request bodies, and Graph accepts that).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, newAPIError(http.StatusBadRequest, "BadRequest", "The request body is not valid gzip.")
		}
		defer zr.Close()
		rd = io.LimitReader(zr, maxBodyBytes+1)
	}
	body, err := io.ReadAll(rd)
	if err != nil || len(body) > maxBodyBytes {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", "")
	}
	return body, nil
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	body, e := readBody(w, r)
	if e != nil {
		return e
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newAPIError(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

func invalidRequest(msg string) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidRequest", msg)
}

// parseResource resolves a subscription resource to a user and calendar.
// Accepted (case-insensitive, optional leading "/"): me/events,
// users/{id}/events (every calendar of the mailbox), me/calendar/events,
// users/{id}/calendar/events (primary calendar),
// me/calendars/{id}/events, users/{id}/calendars/{id}/events.
func parseResource(res, me string) (user, calendar string, ok bool) {
	segs := strings.Split(strings.Trim(res, "/"), "/")
	owner, rest, ok := splitOwner(segs)
	if !ok {
		return "", "", false
	}
	if owner == "" {
		owner = me
	}
	cal, rest, ok := splitCalendar(rest)
	if !ok || len(rest) != 1 || !eq(rest[0], "events") {
		return "", "", false
	}
	return owner, cal, true
}

// checkExpiration applies Graph's subscription lifetime rules
// (https://learn.microsoft.com/en-us/graph/change-notifications-overview#subscription-lifetime).
func (s *Server) checkExpiration(raw *string) (time.Time, *apiError) {
	if raw == nil || *raw == "" {
		return time.Time{}, invalidRequest("expirationDateTime is a required property for subscription creation.")
	}
	t, err := time.Parse(time.RFC3339Nano, *raw)
	if err != nil {
		return time.Time{}, invalidRequest(fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", *raw))
	}
	now := s.cfg.Now()
	if !t.After(now) {
		// The wording is the emulator's; no recorded answer is known.
		return time.Time{}, invalidRequest("Subscription expiration can only be in the future.")
	}
	s.mu.Lock()
	ceiling := s.maxLifetime
	s.mu.Unlock()
	if t.Sub(now) > ceiling {
		return time.Time{}, newAPIError(http.StatusBadRequest, "ExtensionError",
			fmt.Sprintf("Subscription expiration can only be %d minutes in the future.", int(ceiling/time.Minute)))
	}
	return t.UTC(), nil
}

func (s *Server) checkURL(field, raw string) *apiError {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(s.cfg.AllowHTTP && u.Scheme == "http")) {
		return invalidRequest(fmt.Sprintf("The %s must be a valid HTTPS url.", field))
	}
	return nil
}

func (s *Server) handleCreateSubscription(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	var in subscriptionInput
	if e := readJSON(w, r, &in); e != nil {
		return e
	}
	if in.ChangeType == nil || *in.ChangeType == "" {
		return invalidRequest("changeType is a required property for subscription creation.")
	}
	var types []string
	for _, ct := range strings.Split(*in.ChangeType, ",") {
		ct = strings.TrimSpace(ct)
		if ct != "created" && ct != "updated" && ct != "deleted" {
			return invalidRequest(fmt.Sprintf("Invalid changeType '%s'. Valid values are created, updated, deleted.", ct))
		}
		if !slices.Contains(types, ct) {
			types = append(types, ct)
		}
	}
	if in.NotificationURL == nil || *in.NotificationURL == "" {
		return invalidRequest("notificationUrl is a required property for subscription creation.")
	}
	if e := s.checkURL("notificationUrl", *in.NotificationURL); e != nil {
		return e
	}
	lifecycleURL := ""
	if in.LifecycleNotificationURL != nil && *in.LifecycleNotificationURL != "" {
		lifecycleURL = *in.LifecycleNotificationURL
		if e := s.checkURL("lifecycleNotificationUrl", lifecycleURL); e != nil {
			return e
		}
	}
	if in.Resource == nil || *in.Resource == "" {
		return invalidRequest("resource is a required property for subscription creation.")
	}
	clientState := ""
	if in.ClientState != nil {
		clientState = *in.ClientState
	}
	if len([]rune(clientState)) > MaxClientStateLength {
		return invalidRequest(fmt.Sprintf("clientState must be at most %d characters long.", MaxClientStateLength))
	}
	if in.IncludeResourceData != nil && *in.IncludeResourceData {
		return invalidRequest("includeResourceData is not supported by this emulator.")
	}
	tls := "v1_2"
	if in.LatestSupportedTLSVersion != nil && *in.LatestSupportedTLSVersion != "" {
		tls = *in.LatestSupportedTLSVersion
		if !slices.Contains([]string{"v1_0", "v1_1", "v1_2", "v1_3"}, tls) {
			return invalidRequest(fmt.Sprintf("Invalid latestSupportedTlsVersion '%s'.", tls))
		}
	}
	exp, e := s.checkExpiration(in.ExpirationDateTime)
	if e != nil {
		return e
	}
	user, calendar, ok := parseResource(*in.Resource, req.me)
	if !ok {
		return invalidRequest(fmt.Sprintf("Resource '%s' is not supported by this emulator (events of a user or calendar).", *in.Resource))
	}
	s.mu.Lock()
	c, err := s.calendarLocked(user, calendar)
	s.mu.Unlock()
	req.log.User = user
	if err != nil {
		return newAPIError(http.StatusNotFound, "ResourceNotFound", "Resource not found.")
	}
	if calendar != "" {
		req.log.CalendarID = c.id
	}

	// Validation handshake, outside the lock: both URLs, as Graph validates
	// notificationUrl and lifecycleNotificationUrl.
	if e := s.validateURLs(r.Context(), *in.NotificationURL, lifecycleURL); e != nil {
		return e
	}

	s.mu.Lock()
	if calendar == primaryCalendar {
		calendar = s.users[user].primary
	}
	n := 0
	for _, sub := range s.subs {
		if sub.User == user && sub.ExpirationDateTime.After(s.cfg.Now()) {
			n++
		}
	}
	if n >= MaxSubscriptionsPerMailbox {
		s.mu.Unlock()
		return newAPIError(http.StatusForbidden, "ExtensionError",
			fmt.Sprintf("Operation: Create; Exception: [Status Code: Forbidden; Reason: The number of subscriptions for the mailbox exceeded the limit of %d.]", MaxSubscriptionsPerMailbox))
	}
	sub := &subscription{Subscription: Subscription{
		ID:                        s.guidLocked(),
		Resource:                  *in.Resource,
		ChangeType:                strings.Join(types, ","),
		NotificationURL:           *in.NotificationURL,
		LifecycleNotificationURL:  lifecycleURL,
		ClientState:               clientState,
		ExpirationDateTime:        exp,
		ApplicationID:             s.cfg.ApplicationID,
		CreatorID:                 user,
		LatestSupportedTLSVersion: tls,
		User:                      user,
		Calendar:                  calendar,
	}, changeTypes: types}
	s.subs[sub.ID] = sub
	wire := sub.wire()
	s.mu.Unlock()
	s.cfg.Logger.Debug("msgraphtest: subscription created", "id", sub.ID, "user", user)
	writeJSON(w, http.StatusCreated, withContext(s.base(req)+"/$metadata#subscriptions/$entity", wire))
	return nil
}

// Validation errors: the 200-check message as a third party recorded it
// from Graph; the echo-mismatch message is the one Graph users report for
// a wrong body.
const (
	validationNot200Message   = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
	validationMismatchMessage = "Subscription validation request failed. Response must exactly match validationToken query parameter."
	validationTimeoutMessage  = "Subscription validation request timed out."
)

// validateURLs performs the handshake against the notificationUrl, then
// the lifecycleNotificationUrl ("you must validate both",
// https://learn.microsoft.com/graph/change-notifications-lifecycle-events);
// an empty URL is skipped.
func (s *Server) validateURLs(ctx context.Context, notificationURL, lifecycleURL string) *apiError {
	for _, u := range []string{notificationURL, lifecycleURL} {
		if u == "" {
			continue
		}
		if e := s.validateURL(ctx, u); e != nil {
			return e
		}
	}
	return nil
}

// revalidate is the handshake of a renewal or a reauthorization: Graph
// validates the URLs again (microsoftgraph/msgraph-sdk-dotnet#2805), unless
// Config.ValidateOnCreateOnly.
func (s *Server) revalidate(ctx context.Context, notificationURL, lifecycleURL string) *apiError {
	if s.cfg.ValidateOnCreateOnly {
		return nil
	}
	return s.validateURLs(ctx, notificationURL, lifecycleURL)
}

// validateURL performs the handshake against one URL.
func (s *Server) validateURL(ctx context.Context, target string) *apiError {
	s.mu.Lock()
	skip := s.timeoutsN > 0
	if skip {
		s.timeoutsN--
	}
	s.mu.Unlock()
	if skip {
		s.logDelivery(Delivery{Kind: KindValidation, URL: target, Attempt: 1, Err: context.DeadlineExceeded, Dropped: true, Time: s.cfg.Now()})
		s.cfg.Logger.Debug("msgraphtest: validation timed out (injected)")
		return invalidRequest(validationTimeoutMessage)
	}
	token := "Validation: Testing client application reachability for subscription Request-Id: " + s.newGUID()
	u := target
	if strings.Contains(u, "?") {
		u += "&"
	} else {
		u += "?"
	}
	u += "validationToken=" + url.QueryEscape(token)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ValidationTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return invalidRequest(validationNot200Message)
	}
	hreq.Header.Set("Content-Type", "text/plain; charset=utf-8")
	d := Delivery{Kind: KindValidation, URL: target, Attempt: 1, Time: s.cfg.Now()}
	began := time.Now()
	resp, err := s.cfg.NotificationClient.Do(hreq)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		d.StatusCode = resp.StatusCode
	}
	late := time.Since(began) > s.cfg.ValidationTimeout
	if err == nil && late {
		err = context.DeadlineExceeded
	}
	d.Err = err
	s.logDelivery(d)
	switch {
	case err != nil && (late || ctx.Err() == context.DeadlineExceeded):
		s.cfg.Logger.Debug("msgraphtest: validation timed out")
		return invalidRequest(validationTimeoutMessage)
	case err != nil:
		return invalidRequest(validationNot200Message)
	case resp.StatusCode != http.StatusOK:
		return invalidRequest(validationNot200Message)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if string(body) != token || mt != "text/plain" {
		return invalidRequest(validationMismatchMessage)
	}
	return nil
}

func (s *Server) handleListSubscriptions(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	s.mu.Lock()
	now := s.cfg.Now()
	vals := []wireSubscription{}
	ids := make([]string, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if sub := s.subs[id]; sub.ExpirationDateTime.After(now) {
			vals = append(vals, sub.wire())
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": s.base(req) + "/$metadata#subscriptions",
		"value":          vals,
	})
	return nil
}

func (s *Server) handleGetSubscription(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	s.mu.Lock()
	sub := s.liveSubLocked(req.segs[1])
	var wire wireSubscription
	if sub != nil {
		wire = sub.wire()
		req.about(sub)
	}
	s.mu.Unlock()
	if sub == nil {
		return errSubNotFound(req.segs[1])
	}
	writeJSON(w, http.StatusOK, withContext(s.base(req)+"/$metadata#subscriptions/$entity", wire))
	return nil
}

// handleUpdateSubscription renews
// (https://learn.microsoft.com/en-us/graph/api/subscription-update). Only
// expirationDateTime (and notificationUrl) can change. Graph validates the
// URLs again on PATCH (microsoftgraph/msgraph-sdk-dotnet#2805), the new
// notificationUrl if it changes.
func (s *Server) handleUpdateSubscription(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	var in subscriptionInput
	if e := readJSON(w, r, &in); e != nil {
		return e
	}
	id := req.segs[1]
	notificationURL, lifecycleURL, ok := s.subscriptionURLs(req, id)
	if !ok {
		return errSubNotFound(id)
	}
	var exp time.Time
	if in.ExpirationDateTime != nil {
		var e *apiError
		if exp, e = s.checkExpiration(in.ExpirationDateTime); e != nil {
			return e
		}
	}
	if in.LifecycleNotificationURL != nil {
		return invalidRequest("lifecycleNotificationUrl cannot be updated; create a new subscription.")
	}
	newURL := ""
	if in.NotificationURL != nil && *in.NotificationURL != notificationURL {
		if e := s.checkURL("notificationUrl", *in.NotificationURL); e != nil {
			return e
		}
		if e := s.validateURL(r.Context(), *in.NotificationURL); e != nil {
			return e
		}
		newURL = *in.NotificationURL
		notificationURL = ""
	}
	if e := s.revalidate(r.Context(), notificationURL, lifecycleURL); e != nil {
		return e
	}
	s.mu.Lock()
	sub := s.liveSubLocked(id)
	if sub == nil {
		s.mu.Unlock()
		return errSubNotFound(id)
	}
	if !exp.IsZero() {
		sub.ExpirationDateTime = exp
		sub.ReauthorizationRequired = false // renewing also reauthorizes (B.3)
	}
	if newURL != "" {
		sub.NotificationURL = newURL
	}
	wire := sub.wire()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, withContext(s.base(req)+"/$metadata#subscriptions/$entity", wire))
	return nil
}

// handleDeleteSubscription deletes a subscription for every API call at
// once; it may still receive change notifications for
// Config.DeletedSubscriptionLinger.
func (s *Server) handleDeleteSubscription(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	id := req.segs[1]
	s.mu.Lock()
	sub := s.liveSubLocked(id)
	if sub != nil {
		req.about(sub)
		delete(s.subs, id)
		if linger := s.cfg.DeletedSubscriptionLinger; linger > 0 {
			sub.lingerUntil = s.cfg.Now().Add(linger)
			s.deleted[id] = sub
		}
	}
	s.mu.Unlock()
	if sub == nil {
		return errSubNotFound(id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleReauthorize answers 204 No Content
// (https://learn.microsoft.com/en-us/graph/api/subscription-reauthorize)
// after validating the URLs again, as Graph does
// (microsoftgraph/msgraph-sdk-dotnet#2805).
func (s *Server) handleReauthorize(w http.ResponseWriter, r *http.Request, req *request) *apiError {
	id := req.segs[1]
	notificationURL, lifecycleURL, ok := s.subscriptionURLs(req, id)
	if !ok {
		return errSubNotFound(id)
	}
	if e := s.revalidate(r.Context(), notificationURL, lifecycleURL); e != nil {
		return e
	}
	s.mu.Lock()
	sub := s.liveSubLocked(id)
	if sub != nil {
		sub.ReauthorizationRequired = false
	}
	s.mu.Unlock()
	if sub == nil {
		return errSubNotFound(id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
