package msgraphtest

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error codes of expired delta tokens, for [Server.ExpireDeltaTokens].
const (
	// CodeSyncStateNotFound is what live Graph returns on calendarView
	// delta, PascalCase as recorded in
	// https://github.com/microsoftgraph/microsoft-graph-docs/issues/2350;
	// the error docs (https://learn.microsoft.com/en-us/graph/errors) spell
	// it syncStateNotFound.
	CodeSyncStateNotFound = "SyncStateNotFound"
	// CodeResyncRequired is the other reset code Graph's error reference
	// documents.
	CodeResyncRequired = "resyncRequired"
)

// msgUnsupportedEventDelta is Graph's message for delta on an event
// collection it does not track (microsoftgraph/msgraph-metadata#608).
const msgUnsupportedEventDelta = "Unsupported request: Change tracking is not supported against 'microsoft.graph.event'."

const (
	kindCalendarView = "cv"
	kindEvents       = "ev"
)

// deltaToken is the state behind $skiptoken and $deltatoken: JSON, signed
// with the server's key, base64url-encoded. Clients must treat it as
// opaque.
type deltaToken struct {
	Kind     string `json:"k"`
	Skip     bool   `json:"x,omitempty"`
	User     string `json:"u"`
	Calendar string `json:"c"`
	Epoch    int64  `json:"e"`
	Since    int64  `json:"s"`           // changes after this seq
	Base     int64  `json:"b,omitempty"` // up to this seq (skip tokens)
	After    string `json:"a,omitempty"` // ids after this one (skip tokens)
	Start    int64  `json:"ws,omitempty"`
	End      int64  `json:"we,omitempty"`
	PageSize int    `json:"p,omitempty"`
}

func (s *Server) encodeToken(t deltaToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(append(b, s.sign(b)...))
}

func (s *Server) decodeToken(raw string) (deltaToken, bool) {
	var t deltaToken
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < 13 {
		return t, false
	}
	payload, mac := b[:len(b)-12], b[len(b)-12:]
	if !hmac.Equal(mac, s.sign(payload)) {
		return t, false
	}
	if json.Unmarshal(payload, &t) != nil {
		return t, false
	}
	return t, true
}

// ExpireDeltaTokens invalidates every skip and delta token issued so far
// for a calendar ("" = every calendar of the user; user "" = every user):
// their next use answers 410 Gone with code (CodeSyncStateNotFound if "",
// or CodeResyncRequired) and a Location header holding the initial query,
// as Graph does when its sync state is gone
// (https://learn.microsoft.com/en-us/graph/delta-query-overview).
func (s *Server) ExpireDeltaTokens(user, calendar, code string) error {
	if code == "" {
		code = CodeSyncStateNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cals []*calendarState
	switch {
	case user == "":
		for _, u := range s.userOrder {
			for _, c := range s.users[u].calendars {
				cals = append(cals, c)
			}
		}
	case calendar == "":
		mb := s.users[user]
		if mb == nil {
			return fmt.Errorf("%w: user %q", ErrNotFound, user)
		}
		for _, c := range mb.calendars {
			cals = append(cals, c)
		}
	default:
		c, err := s.calendarLocked(user, calendar)
		if err != nil {
			return err
		}
		cals = append(cals, c)
	}
	for _, c := range cals {
		c.epoch++
		c.expiredCode = code
	}
	return nil
}

// queryValue reads a query parameter case-insensitively ($deltatoken and
// $deltaToken are both in Microsoft's documentation).
func queryValue(q url.Values, name string) (string, bool) {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

// pageSize reads "Prefer: odata.maxpagesize=N".
func pageSize(r *http.Request) int {
	for _, h := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "odata.maxpagesize") {
				if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`)); err == nil && n > 0 {
					return min(n, MaxPageSize)
				}
			}
		}
	}
	return 0
}

func parseWindowTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time")
}

type removedItem struct {
	ODataType string            `json:"@odata.type"`
	ID        string            `json:"id"`
	Removed   map[string]string `json:"@removed"`
}

// eventsDeltaItem is the reduced item of events delta (beta): id, type,
// start and end, with PascalCase inner keys as the beta example shows
// (https://learn.microsoft.com/en-us/graph/api/event-delta?view=graph-rest-beta).
type eventsDeltaItem struct {
	ODataType string            `json:"@odata.type"`
	ODataEtag string            `json:"@odata.etag"`
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	Start     map[string]string `json:"start"`
	End       map[string]string `json:"end"`
}

type deltaPage struct {
	Context   string `json:"@odata.context"`
	NextLink  string `json:"@odata.nextLink,omitempty"`
	DeltaLink string `json:"@odata.deltaLink,omitempty"`
	Value     []any  `json:"value"`
}

// deltaHandler serves calendarView delta (v1.0 and beta) and events delta
// (beta only, https://learn.microsoft.com/en-us/graph/api/event-delta?view=graph-rest-beta).
func (s *Server) deltaHandler(t *target, kind string) handler {
	return func(w http.ResponseWriter, r *http.Request, req *request) *apiError {
		if kind == kindCalendarView && req.version == "v1.0" && t.calendar != "" && !s.cfg.AllowCalendarDeltaV1 {
			// v1.0 documents calendarView delta of the primary calendar
			// only (https://learn.microsoft.com/en-us/graph/api/event-delta?view=graph-rest-1.0);
			// Graph answers delta it does not track with this 400
			// (microsoftgraph/msgraph-metadata#608).
			return newAPIError(http.StatusBadRequest, "BadRequest", msgUnsupportedEventDelta)
		}
		if kind == kindEvents && req.version == "v1.0" {
			// events delta is "currently available only in the beta
			// version" (event delta reference); live v1.0 answers it with
			// this 400 (microsoftgraph/msgraph-metadata#608).
			return newAPIError(http.StatusBadRequest, "BadRequest", msgUnsupportedEventDelta)
		}
		q := r.URL.Query()
		for _, opt := range []string{"$select", "$expand", "$filter", "$orderby", "$search"} {
			if _, ok := queryValue(q, opt); ok {
				return newAPIError(http.StatusBadRequest, "ErrorInvalidUrlQuery",
					fmt.Sprintf("The following parameters are not supported with change tracking over the 'Events' resource: '%s'.", opt))
			}
		}
		user := t.owner
		if user == "" {
			user = req.me
		}
		path := strings.Replace(r.URL.Path, "delta()", "delta", 1)
		link := s.ts.URL + path

		skip, hasSkip := queryValue(q, "$skiptoken")
		delta, hasDelta := queryValue(q, "$deltatoken")
		var tok deltaToken
		var param, raw string
		switch {
		case hasSkip:
			param, raw = "$skipToken", skip
		case hasDelta && delta != "":
			param, raw = "$deltaToken", delta
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		c, err := s.calendarLocked(user, t.calendar)
		if err != nil {
			return newAPIError(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		}
		ps := pageSize(r)
		if raw != "" {
			var ok bool
			tok, ok = s.decodeToken(raw)
			if !ok || tok.Kind != kind || tok.User != c.user || tok.Calendar != c.id || tok.Skip != (param == "$skipToken") {
				return newAPIError(http.StatusBadRequest, "InvalidDeltaToken",
					fmt.Sprintf("The value '%s' of parameter '%s' is invalid.", raw, param))
			}
			if tok.Epoch != c.epoch {
				e := newAPIError(http.StatusGone, c.expiredCode, "")
				if strings.EqualFold(c.expiredCode, CodeSyncStateNotFound) {
					e.message = fmt.Sprintf("The sync state generation is not found; generation=%d;[highest=%d][%d][%d][%d].",
						tok.Since, c.seq, c.seq, max(c.seq-2, 0), max(c.seq-1, 0))
				} else {
					e.message = "The delta token is no longer valid, and the app must reset the sync state."
				}
				e.location = link
				if kind == kindCalendarView {
					e.location += "?startDateTime=" + url.QueryEscape(fmtTime(time.Unix(0, tok.Start))) +
						"&endDateTime=" + url.QueryEscape(fmtTime(time.Unix(0, tok.End)))
				}
				return e
			}
			if !tok.Skip {
				// A new round starts from the delta token.
				tok.Skip, tok.Base, tok.After = true, c.seq, ""
			}
			if ps == 0 {
				ps = tok.PageSize
			}
		} else {
			tok = deltaToken{Kind: kind, Skip: true, User: c.user, Calendar: c.id, Epoch: c.epoch, Base: c.seq}
			if kind == kindCalendarView {
				sv, ok1 := queryValue(q, "startDateTime")
				ev, ok2 := queryValue(q, "endDateTime")
				if !ok1 || !ok2 {
					return newAPIError(http.StatusBadRequest, "ErrorInvalidParameter",
						"This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
				}
				start, err1 := parseWindowTime(sv)
				end, err2 := parseWindowTime(ev)
				if err1 != nil || err2 != nil || !start.Before(end) {
					return newAPIError(http.StatusBadRequest, "ErrorInvalidParameter",
						"The parameters StartDateTime and EndDateTime must be ISO 8601 date-times with StartDateTime before EndDateTime.")
				}
				tok.Start, tok.End = start.UnixNano(), end.UnixNano()
			}
		}
		preferred := ps != 0
		if ps == 0 {
			ps = DefaultPageSize
		}
		tok.PageSize = ps

		page := deltaPage{Context: s.base(req) + "/$metadata#Collection(event)", Value: []any{}}
		ids, items := s.deltaItems(c, tok, kind)
		i := 0
		for i < len(ids) && len(page.Value) < ps {
			page.Value = append(page.Value, items[ids[i]])
			i++
		}
		if i < len(ids) {
			next := tok
			next.After = ids[i-1]
			page.NextLink = link + "?$skiptoken=" + s.encodeToken(next)
		} else {
			d := deltaToken{Kind: kind, User: c.user, Calendar: c.id, Epoch: c.epoch, Since: tok.Base,
				Start: tok.Start, End: tok.End, PageSize: tok.PageSize}
			page.DeltaLink = link + "?$deltatoken=" + s.encodeToken(d)
		}
		applied := "odata.track-changes"
		if preferred {
			applied += ", odata.maxpagesize=" + strconv.Itoa(ps)
		}
		w.Header().Set("Preference-Applied", applied)
		writeJSON(w, http.StatusOK, page)
		return nil
	}
}

// deltaItems returns the ids of the round (sorted, after tok.After) and
// their items. Initial rounds (Since 0) list only what exists; later
// rounds list what changed in (Since, Base], removed or out of the window
// as @removed (https://learn.microsoft.com/en-us/graph/api/event-delta).
func (s *Server) deltaItems(c *calendarState, tok deltaToken, kind string) ([]string, map[string]any) {
	items := map[string]any{}
	var ids []string
	removed := func(id string) removedItem {
		return removedItem{ODataType: "#microsoft.graph.event", ID: id, Removed: map[string]string{"reason": "deleted"}}
	}
	if kind == kindCalendarView {
		cur := c.allInstances()
		start, end := time.Unix(0, tok.Start).UTC(), time.Unix(0, tok.End).UTC()
		for id, seq := range c.instSeq {
			if seq <= tok.Since || seq > tok.Base || (tok.After != "" && id <= tok.After) {
				continue
			}
			in, ok := cur[id]
			live := ok && inWindow(in, start, end)
			switch {
			case live:
				items[id] = toWire(c.user, c.public(in, seq))
			case tok.Since == 0:
				continue
			default:
				items[id] = removed(id)
			}
			ids = append(ids, id)
		}
	} else {
		for id, seq := range c.evSeq {
			if seq <= tok.Since || seq > tok.Base || (tok.After != "" && id <= tok.After) {
				continue
			}
			es := c.events[id]
			switch {
			case es != nil && !es.deleted:
				ev := c.public(es.ev, seq)
				items[id] = eventsDeltaItem{
					ODataType: "#microsoft.graph.event",
					ODataEtag: `W/"` + ev.ChangeKey + `"`,
					ID:        id,
					Type:      ev.Type,
					Start:     map[string]string{"DateTime": ev.Start.Format(localTime), "TimeZone": "UTC"},
					End:       map[string]string{"DateTime": ev.End.Format(localTime), "TimeZone": "UTC"},
				}
			case tok.Since == 0:
				continue
			default:
				items[id] = removed(id)
			}
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, items
}
