package googletest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Channel is a read-only copy of a push channel, as returned by
// [Server.Channels].
type Channel struct {
	// ID is the client-chosen channel id.
	ID string
	// ResourceID is the opaque id of the watched resource, stable per
	// calendar.
	ResourceID string
	// ResourceURI is the version-specific URI of the watched resource.
	ResourceURI string
	// CalendarID is the calendar the channel watches (never "primary").
	CalendarID string
	// Type is "web_hook" or "webhook".
	Type string
	// Address is where notifications are delivered.
	Address string
	// Token is the channel token echoed in X-Goog-Channel-Token. It is a
	// secret of the host app: do not log it.
	Token string
	// Params holds the request's params (e.g. "ttl").
	Params map[string]string
	// Expiration is when the channel stops delivering.
	Expiration time.Time
}

// channel is the server's live record of a push channel.
type channel struct {
	Channel
	stopped    bool
	stoppedAt  time.Time // Config.Now at channels.stop
	lastNumber int64
}

// live reports whether the channel is neither stopped nor expired: it is
// listed, can be stopped, and its id cannot be reused.
func (ch *channel) live(now time.Time) bool {
	return !ch.stopped && now.Before(ch.Expiration)
}

// notified reports whether a change made now notifies the channel: when it
// is live, and for grace after it was stopped (grace < 0: never).
func (ch *channel) notified(now time.Time, grace time.Duration) bool {
	if ch.live(now) {
		return true
	}
	return ch.stopped && grace >= 0 && now.Before(ch.stoppedAt.Add(grace)) && now.Before(ch.Expiration)
}

func (ch *channel) copy() Channel {
	out := ch.Channel
	out.Params = maps.Clone(ch.Params)
	return out
}

// watchRequest is the Channel body of events.watch
// (https://developers.google.com/workspace/calendar/api/v3/reference/events/watch).
type watchRequest struct {
	ID         string            `json:"id"`
	Token      string            `json:"token"`
	Type       string            `json:"type"`
	Address    string            `json:"address"`
	Expiration json.RawMessage   `json:"expiration"`
	Params     map[string]string `json:"params"`
}

// watchResponse is the Channel answered by events.watch; expiration is a
// JSON string of milliseconds: the discovery document types it as a string
// of format int64, and the official Go client rejects a bare number.
type watchResponse struct {
	Kind        string `json:"kind"`
	ID          string `json:"id"`
	ResourceID  string `json:"resourceId"`
	ResourceURI string `json:"resourceUri"`
	Token       string `json:"token,omitempty"`
	Expiration  string `json:"expiration"`
}

// parseExpiration accepts the expiration in milliseconds as a JSON string
// (the documented wire type) or a bare number (the guide's shorthand).
func parseExpiration(raw json.RawMessage) (ms int64, set bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	s := string(raw)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, err
		}
		if s == "" {
			return 0, false, nil
		}
	}
	ms, err = strconv.ParseInt(s, 10, 64)
	return ms, err == nil, err
}

func resourceURI(pathCalendarID string) string {
	return "https://www.googleapis.com/calendar/v3/calendars/" + url.PathEscape(pathCalendarID) + "/events?alt=json"
}

func pushInvalidTTL(seconds int64) *apiError {
	return &apiError{code: http.StatusBadRequest, domain: "global", reason: "pushInvalidTtl",
		message: fmt.Sprintf("Invalid ttl value for channel %d", seconds)}
}

// handleWatch serves events.watch.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	body, e := decodeBody(r, w)
	if e != nil {
		writeError(w, e)
		return
	}
	raw, _ := json.Marshal(body)
	var req watchRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		writeError(w, errInvalid("", "Invalid channel: "+err.Error()))
		return
	}
	switch {
	case req.ID == "":
		writeError(w, errRequired("Required: channel id"))
		return
	case len(req.ID) > MaxChannelIDLength:
		writeError(w, errInvalid("", fmt.Sprintf("Channel id must be at most %d characters.", MaxChannelIDLength)))
		return
	case req.Type == "":
		writeError(w, errRequired("Required: channel type"))
		return
	case req.Type != "web_hook" && req.Type != "webhook":
		writeError(w, errInvalid("", fmt.Sprintf("Invalid channel type %q.", req.Type)))
		return
	case req.Address == "":
		writeError(w, errRequired("Required: channel address"))
		return
	case len(req.Token) > MaxChannelTokenLength:
		writeError(w, errInvalid("", fmt.Sprintf("Channel token must be at most %d characters.", MaxChannelTokenLength)))
		return
	}
	u, err := url.Parse(req.Address)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		writeError(w, errInvalid("", "Invalid channel address."))
		return
	}
	if u.Scheme != "https" && !s.cfg.AllowHTTP {
		// Google only delivers to HTTPS (push guide); the reason and message
		// follow third-party reports, not Google's documentation.
		writeError(w, &apiError{code: http.StatusBadRequest, domain: "global", reason: "push.webhookUrlNotHttps",
			message: "WebHook callback must be HTTPS: " + req.Address})
		return
	}
	expMS, expSet, err := parseExpiration(req.Expiration)
	if err != nil {
		writeError(w, errInvalid("", "Invalid value for: expiration"))
		return
	}

	now := s.cfg.Now()
	base := now.Truncate(time.Second)
	exp := base.Add(s.cfg.DefaultTTL)
	if v, ok := req.Params["ttl"]; ok {
		ttl, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, errInvalid("", "Invalid value for: params.ttl"))
			return
		}
		if ttl <= 0 {
			writeError(w, pushInvalidTTL(ttl))
			return
		}
		exp = base.Add(time.Duration(min(ttl, int64(1<<62)/int64(time.Second))) * time.Second)
	}
	if expSet {
		requested := time.UnixMilli(expMS)
		if !requested.After(now) {
			writeError(w, pushInvalidTTL(requested.Sub(now).Milliseconds()/1000))
			return
		}
		if _, ttlSet := req.Params["ttl"]; !ttlSet || requested.Before(exp) {
			exp = requested
		}
	}
	if limit := base.Add(s.cfg.MaxTTL); exp.After(limit) {
		exp = limit // clamp silently, as Google does with over-long requests
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	pathID := r.PathValue("calendarId")
	c := s.calendar(pathID)
	if c == nil {
		writeError(w, errNotFound())
		return
	}
	if old, ok := s.channels[req.ID]; ok && old.live(now) {
		// As third parties report it; Google documents no error for this.
		writeError(w, &apiError{code: http.StatusBadRequest, domain: "global", reason: "channelIdNotUnique",
			message: fmt.Sprintf("Channel id %s not unique", req.ID)})
		return
	}
	ch := &channel{Channel: Channel{
		ID:          req.ID,
		ResourceID:  c.resourceID,
		ResourceURI: resourceURI(pathID),
		CalendarID:  c.id,
		Type:        req.Type,
		Address:     req.Address,
		Token:       req.Token,
		Params:      maps.Clone(req.Params),
		Expiration:  exp,
	}}
	s.channels[req.ID] = ch
	s.cfg.Logger.Debug("googletest: channel created", "channel", ch.ID, "calendar", c.id, "expiration", exp)
	// The sync message may arrive before the watch response (A.6).
	s.notifyLocked(ch, "sync")
	writeJSON(w, http.StatusOK, watchResponse{
		Kind:        "api#channel",
		ID:          ch.ID,
		ResourceID:  ch.ResourceID,
		ResourceURI: ch.ResourceURI,
		Token:       ch.Token,
		Expiration:  strconv.FormatInt(exp.UnixMilli(), 10),
	})
}

// handleStop serves channels.stop. Success is 204 with an empty body: the
// reference (https://developers.google.com/workspace/calendar/api/v3/reference/channels/stop)
// only says "an empty response body" and gives no status. An unknown,
// stopped or expired channel, or a resourceId that does not match, is 404
// notFound (Google documents no status for that; Google may also accept a
// repeated stop, the emulator does not). A stopped channel still receives
// the pushes of changes made within Config.StopGrace; the pushes it had
// queued are dropped unless Config.DeliverQueuedAfterStop.
func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	body, e := decodeBody(r, w)
	if e != nil {
		writeError(w, e)
		return
	}
	var id, resourceID string
	if json.Unmarshal(body["id"], &id) != nil && body["id"] != nil {
		writeError(w, errInvalid("", "Invalid value for: id"))
		return
	}
	if json.Unmarshal(body["resourceId"], &resourceID) != nil && body["resourceId"] != nil {
		writeError(w, errInvalid("", "Invalid value for: resourceId"))
		return
	}
	if id == "" || resourceID == "" {
		writeError(w, errRequired("Required: id and resourceId"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[id]
	if !ok || !ch.live(s.cfg.Now()) || ch.ResourceID != resourceID {
		writeError(w, errNotFound())
		return
	}
	ch.stopped, ch.stoppedAt = true, s.cfg.Now()
	s.cfg.Logger.Debug("googletest: channel stopped", "channel", ch.ID)
	w.WriteHeader(http.StatusNoContent)
}

// Channels returns copies of the live (not stopped, not expired) channels
// watching calendarID ("primary" is resolved), sorted by id.
func (s *Server) Channels(calendarID string) []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(calendarID)
	if c == nil {
		return nil
	}
	now := s.cfg.Now()
	var out []Channel
	for _, ch := range s.channels {
		if ch.CalendarID == c.id && ch.live(now) {
			out = append(out, ch.copy())
		}
	}
	slices.SortFunc(out, func(a, b Channel) int { return strings.Compare(a.ID, b.ID) })
	return out
}
