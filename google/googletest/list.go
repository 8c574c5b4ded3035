package googletest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listQuery is a parsed events.list request.
type listQuery struct {
	single      bool
	showDeleted bool
	incremental bool
	since       uint64 // incremental: rows with a larger sequence
	timeMin     time.Time
	timeMax     time.Time
	updatedMin  time.Time
	q           string
	iCalUID     string
	orderBy     string
	eventTypes  map[string]bool
	private     []string
	shared      []string
	maxResults  int
}

// syncForbidden are the parameters that cannot be combined with syncToken
// (https://developers.google.com/workspace/calendar/api/v3/reference/events/list).
var syncForbidden = []string{"iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin"}

func parseBool(q url.Values, name string) (bool, bool, *apiError) {
	v := q.Get(name)
	if v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, true, errInvalid(name, fmt.Sprintf("Invalid value '%s' for %s.", v, name))
	}
	return b, true, nil
}

func parseTimeParam(q url.Values, name string) (time.Time, *apiError) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	// RFC 3339 with a mandatory offset, as events.list requires.
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errInvalid(name, "Bad Request")
	}
	return t, nil
}

// parseListQuery validates the query of events.list (everything but the
// tokens).
func parseListQuery(q url.Values) (*listQuery, *apiError) {
	lq := &listQuery{maxResults: DefaultPageSize}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errInvalid("maxResults", fmt.Sprintf("Invalid value '%s'. Values must be within the range: [1, %d]", v, MaxPageSize))
		}
		lq.maxResults = min(n, MaxPageSize)
	}
	var e *apiError
	if lq.single, _, e = parseBool(q, "singleEvents"); e != nil {
		return nil, e
	}
	var showSet bool
	if lq.showDeleted, showSet, e = parseBool(q, "showDeleted"); e != nil {
		return nil, e
	}
	if q.Get("syncToken") != "" {
		for _, p := range syncForbidden {
			if q.Has(p) {
				return nil, errInvalid(p, fmt.Sprintf("The '%s' parameter cannot be used together with syncToken.", p))
			}
		}
		if showSet && !lq.showDeleted {
			return nil, errInvalid("showDeleted", "showDeleted=false cannot be used together with syncToken: deleted events are always included.")
		}
	}
	switch ob := q.Get("orderBy"); ob {
	case "":
	case "startTime":
		if !lq.single {
			return nil, errInvalid("orderBy", "The requested ordering is not available for the particular query.")
		}
		lq.orderBy = ob
	case "updated":
		lq.orderBy = ob
	default:
		return nil, errInvalid("orderBy", fmt.Sprintf("Invalid value '%s' for orderBy.", ob))
	}
	if lq.timeMin, e = parseTimeParam(q, "timeMin"); e != nil {
		return nil, e
	}
	if lq.timeMax, e = parseTimeParam(q, "timeMax"); e != nil {
		return nil, e
	}
	if !lq.timeMin.IsZero() && !lq.timeMax.IsZero() && !lq.timeMax.After(lq.timeMin) {
		return nil, newAPIError(http.StatusBadRequest, "timeRangeEmpty", "")
	}
	if lq.updatedMin, e = parseTimeParam(q, "updatedMin"); e != nil {
		return nil, e
	}
	lq.q = strings.ToLower(q.Get("q"))
	lq.iCalUID = q.Get("iCalUID")
	if ets := q["eventTypes"]; len(ets) > 0 {
		lq.eventTypes = map[string]bool{}
		for _, et := range ets {
			lq.eventTypes[et] = true
		}
	}
	lq.private = q["privateExtendedProperty"]
	lq.shared = q["sharedExtendedProperty"]
	return lq, nil
}

// match reports whether r belongs in the answer to lq.
func (c *calendarState) match(r *row, lq *listQuery) bool {
	// The view: singleEvents=true shows singles and instances,
	// singleEvents=false shows singles, series and exceptions.
	if lq.single {
		if r.kind == kindSeries {
			return false
		}
	} else if r.kind == kindInstance && !r.exception() {
		return false
	}
	if lq.incremental {
		if r.seq <= lq.since {
			return false
		}
		// Deleted events are always included in an incremental list.
		return true
	}
	if r.cancelled {
		switch {
		case lq.showDeleted:
		case !lq.updatedMin.IsZero() && !r.updated.Before(lq.updatedMin):
			// updatedMin: deleted entries always included.
		case !lq.single && r.exception() && !c.rows[r.seriesID].cancelled:
			// Cancelled exceptions of an uncancelled series are listed
			// when showDeleted and singleEvents are both false (A.8).
		default:
			return false
		}
	}
	if !lq.updatedMin.IsZero() && r.updated.Before(lq.updatedMin) {
		return false
	}
	if !r.cancelled {
		if !c.inTimeRange(r, lq) {
			return false
		}
		if lq.iCalUID != "" && r.iCalUID != lq.iCalUID {
			return false
		}
		if lq.eventTypes != nil && !lq.eventTypes[r.body.str("eventType")] {
			return false
		}
		if lq.q != "" && !r.matchesText(lq.q) {
			return false
		}
		if !r.hasProperties("private", lq.private) || !r.hasProperties("shared", lq.shared) {
			return false
		}
	}
	return true
}

// inTimeRange applies timeMin (exclusive bound on the end) and timeMax
// (exclusive bound on the start); a series matches when any of its
// instances would.
func (c *calendarState) inTimeRange(r *row, lq *listQuery) bool {
	start, end := r.start, r.end
	if r.kind == kindSeries {
		start, end = r.spanStart, r.spanEnd
		if start.IsZero() {
			return false
		}
		if r.open {
			end = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	if !lq.timeMin.IsZero() && !end.After(lq.timeMin) {
		return false
	}
	if !lq.timeMax.IsZero() && !start.Before(lq.timeMax) {
		return false
	}
	return true
}

func (r *row) matchesText(q string) bool {
	for _, k := range []string{"summary", "description", "location"} {
		if strings.Contains(strings.ToLower(r.body.str(k)), q) {
			return true
		}
	}
	return false
}

func (r *row) hasProperties(scope string, want []string) bool {
	if len(want) == 0 {
		return true
	}
	var ep map[string]map[string]string
	if raw, ok := r.body["extendedProperties"]; ok {
		_ = json.Unmarshal(raw, &ep)
	}
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := ep[scope][k]; !ok || got != v {
			return false
		}
	}
	return true
}

// orderKey is the position of r in lq's ordering; ids break ties.
func orderKey(r *row, lq *listQuery) string {
	switch lq.orderBy {
	case "startTime":
		return r.start.UTC().Format("20060102T150405.000000000") + "\x00" + r.id
	case "updated":
		return r.updated.UTC().Format("20060102T150405.000000000") + "\x00" + r.id
	}
	return r.id
}

// page collects up to lq.maxResults matching rows after the key after; more
// reports whether further matching rows exist.
func (c *calendarState) page(lq *listQuery, after string) (rows []*row, more bool) {
	ids := c.sortedIDs()
	if lq.orderBy == "" {
		i := 0
		if after != "" {
			i, _ = slices.BinarySearch(ids, after)
			if i < len(ids) && ids[i] == after {
				i++
			}
		}
		for ; i < len(ids); i++ {
			r := c.rows[ids[i]]
			if !c.match(r, lq) {
				continue
			}
			if len(rows) == lq.maxResults {
				return rows, true
			}
			rows = append(rows, r)
		}
		return rows, false
	}
	type keyed struct {
		key string
		r   *row
	}
	var all []keyed
	for _, id := range ids {
		r := c.rows[id]
		if c.match(r, lq) {
			if k := orderKey(r, lq); k > after {
				all = append(all, keyed{k, r})
			}
		}
	}
	slices.SortFunc(all, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for _, k := range all {
		if len(rows) == lq.maxResults {
			return rows, true
		}
		rows = append(rows, k.r)
	}
	return rows, false
}

type eventsResponse struct {
	Kind             string            `json:"kind"`
	Etag             string            `json:"etag"`
	Summary          string            `json:"summary"`
	Description      string            `json:"description,omitempty"`
	Updated          string            `json:"updated"`
	TimeZone         string            `json:"timeZone"`
	AccessRole       string            `json:"accessRole"`
	DefaultReminders []json.RawMessage `json:"defaultReminders"`
	NextPageToken    string            `json:"nextPageToken,omitempty"`
	NextSyncToken    string            `json:"nextSyncToken,omitempty"`
	Items            []json.RawMessage `json:"items"`
}

// handleList serves events.list.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq, e := parseListQuery(q)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(r.PathValue("calendarId"))
	if c == nil {
		writeError(w, errNotFound())
		return
	}
	snapshot := c.seq
	after := ""
	if st := q.Get("syncToken"); st != "" {
		tok, err := decodeSyncToken(st)
		if err != nil || tok.calendar != c.id {
			writeError(w, errInvalidSyncToken())
			return
		}
		if tok.instance != s.instance || tok.epoch != c.epoch {
			writeError(w, s.staleSyncTokenLocked())
			return
		}
		if tok.single != lq.single {
			writeError(w, errInvalid("singleEvents", "singleEvents must have the same value as in the request that produced the sync token."))
			return
		}
		lq.incremental, lq.since = true, tok.seq
	}
	fp := queryFingerprint(c.id, q)
	if pt := q.Get("pageToken"); pt != "" {
		tok, err := decodePageToken(pt)
		if err != nil || tok.calendar != c.id || tok.query != fp || tok.incremental != lq.incremental || tok.since != lq.since {
			writeError(w, errInvalid("pageToken", "Invalid page token value."))
			return
		}
		if tok.instance != s.instance || tok.epoch != c.epoch {
			writeError(w, errFullSync())
			return
		}
		snapshot, after = tok.snapshot, tok.after
	}
	rows, more := c.page(lq, after)
	resp := eventsResponse{
		Kind:             "calendar#events",
		Etag:             c.collectionEtag(),
		Summary:          c.id,
		Updated:          formatTime(c.updated),
		TimeZone:         c.tzName,
		AccessRole:       "owner",
		DefaultReminders: []json.RawMessage{},
		Items:            make([]json.RawMessage, len(rows)),
	}
	for i, row := range rows {
		resp.Items[i] = c.render(row)
	}
	if more {
		resp.NextPageToken = pageToken{
			instance: s.instance, calendar: c.id, epoch: c.epoch, incremental: lq.incremental,
			since: lq.since, snapshot: snapshot, query: fp, after: orderKey(rows[len(rows)-1], lq),
		}.encode()
	} else {
		resp.NextSyncToken = syncToken{instance: s.instance, calendar: c.id, epoch: c.epoch, seq: snapshot, single: lq.single}.encode()
	}
	writeJSON(w, http.StatusOK, resp)
}

// staleSyncTokenLocked is the answer to a well-formed sync token the server
// no longer accepts, as Config.StaleSyncToken chooses. The caller holds
// s.mu, which orders the random choices.
func (s *Server) staleSyncTokenLocked() *apiError {
	switch s.cfg.StaleSyncToken {
	case StaleToken400:
		return errInvalidSyncToken()
	case StaleTokenMixed:
		if s.chaos.IntN(2) == 0 {
			return errInvalidSyncToken()
		}
	}
	return errFullSync()
}

// collectionEtag is an opaque quoted etag that changes with every change to
// the calendar's events.
func (c *calendarState) collectionEtag() string {
	v := c.seq<<8 | uint64(c.epoch&0xff)
	const digits = "0123456789abcdefghijklmnopqrstuv"
	b := make([]byte, 16)
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[v&31]
		v >>= 5
	}
	return `"` + string(b) + `"`
}
