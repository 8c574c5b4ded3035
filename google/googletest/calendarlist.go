package googletest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
)

// calendarList.list's default and largest maxResults
// (https://developers.google.com/workspace/calendar/api/v3/reference/calendarList/list):
// larger values are lowered to MaxCalendarListPageSize.
const (
	DefaultCalendarListPageSize = 100
	MaxCalendarListPageSize     = 250
)

// Default colour of a calendar list entry: colorId "14" of Google's
// calendar palette (colors.get), the emulator's choice.
const (
	defaultColorID         = "14"
	defaultBackgroundColor = "#9fe1e7"
	defaultForegroundColor = "#000000"
)

// CalendarInfo is how a calendar appears in the user's calendar list
// (calendarList.list and calendarList.get), for [Server.SetCalendarInfo].
// A zero field keeps the default stated with it.
type CalendarInfo struct {
	// Summary is the calendar's title. Default: the calendar id.
	Summary string
	// SummaryOverride is the user's own name for the calendar, sent as
	// summaryOverride. Default: none (the member is left out).
	SummaryOverride string
	// BackgroundColor and ForegroundColor are colours as "#rrggbb".
	// Default: "#9fe1e7" and "#000000" (colorId "14").
	BackgroundColor string
	ForegroundColor string
	// ColorID is the palette entry the colours come from. Default: "14".
	ColorID string
	// AccessRole is the user's role: "owner", "writer", "reader" or
	// "freeBusyReader". Default: "owner".
	AccessRole string
}

// accessRoles ranks the roles for minAccessRole.
var accessRoles = map[string]int{"freeBusyReader": 1, "reader": 2, "writer": 3, "owner": 4}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// SetCalendarInfo sets how a calendar appears in the calendar list; zero
// fields of info take their defaults (see [CalendarInfo]). It fails for a
// calendar that does not exist, a colour that is not "#rrggbb", or an
// unknown access role. Changing it does not notify channels, as the
// calendar list is not the calendar's events.
func (s *Server) SetCalendarInfo(calendarID string, info CalendarInfo) error {
	for _, c := range []string{info.BackgroundColor, info.ForegroundColor} {
		if c != "" && !hexColor.MatchString(c) {
			return fmt.Errorf("googletest: colour %q is not #rrggbb", c)
		}
	}
	if info.AccessRole != "" && accessRoles[info.AccessRole] == 0 {
		return fmt.Errorf("googletest: unknown access role %q", info.AccessRole)
	}
	return s.withCalendar(calendarID, func(c *calendarState) {
		c.info = info
		c.infoVersion++
	})
}

// calendarListEntry is the calendarList resource
// (https://developers.google.com/workspace/calendar/api/v3/reference/calendarList).
type calendarListEntry struct {
	Kind                 string               `json:"kind"`
	Etag                 string               `json:"etag"`
	ID                   string               `json:"id"`
	Summary              string               `json:"summary"`
	SummaryOverride      string               `json:"summaryOverride,omitempty"`
	TimeZone             string               `json:"timeZone"`
	ColorID              string               `json:"colorId"`
	BackgroundColor      string               `json:"backgroundColor"`
	ForegroundColor      string               `json:"foregroundColor"`
	Selected             bool                 `json:"selected"`
	AccessRole           string               `json:"accessRole"`
	DefaultReminders     []struct{}           `json:"defaultReminders"`
	ConferenceProperties conferenceProperties `json:"conferenceProperties"`
	Primary              bool                 `json:"primary,omitempty"`
}

type conferenceProperties struct {
	AllowedConferenceSolutionTypes []string `json:"allowedConferenceSolutionTypes"`
}

type calendarListPage struct {
	Kind          string              `json:"kind"`
	Etag          string              `json:"etag"`
	NextPageToken string              `json:"nextPageToken,omitempty"`
	Items         []calendarListEntry `json:"items"`
}

// listEntryLocked renders the calendar list entry of c. The caller holds
// s.mu.
func (s *Server) listEntryLocked(c *calendarState) calendarListEntry {
	info := c.info
	e := calendarListEntry{
		Kind:                 "calendar#calendarListEntry",
		Etag:                 strconv.Quote(strconv.FormatInt(c.created.UnixMicro()+int64(c.infoVersion), 10)),
		ID:                   c.id,
		Summary:              or(info.Summary, c.id),
		SummaryOverride:      info.SummaryOverride,
		TimeZone:             c.tzName,
		ColorID:              or(info.ColorID, defaultColorID),
		BackgroundColor:      or(info.BackgroundColor, defaultBackgroundColor),
		ForegroundColor:      or(info.ForegroundColor, defaultForegroundColor),
		Selected:             true,
		AccessRole:           or(info.AccessRole, "owner"),
		DefaultReminders:     []struct{}{},
		ConferenceProperties: conferenceProperties{AllowedConferenceSolutionTypes: []string{"hangoutsMeet"}},
		Primary:              len(s.order) > 0 && s.order[0] == c.id,
	}
	return e
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// visibleLocked returns the calendars of the calendar list in order: every
// calendar added, except those deleted or whose access was revoked. The
// caller holds s.mu.
func (s *Server) visibleLocked() []*calendarState {
	var out []*calendarState
	for _, id := range s.order {
		if c := s.calendars[id]; c != nil && !c.deleted && c.denied == nil {
			out = append(out, c)
		}
	}
	return out
}

// handleCalendarListList is calendarList.list: the calendars in the order
// added (the primary first), paged.
func (s *Server) handleCalendarListList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := DefaultCalendarListPageSize
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, errInvalid("maxResults", fmt.Sprintf("Invalid value '%s'. Values must be within the range: [1, %d]", v, MaxCalendarListPageSize)))
			return
		}
		size = min(n, MaxCalendarListPageSize)
	}
	minRole := 0
	if v := q.Get("minAccessRole"); v != "" {
		if minRole = accessRoles[v]; minRole == 0 {
			writeError(w, errInvalid("minAccessRole", fmt.Sprintf("Invalid value '%s'.", v)))
			return
		}
	}
	if q.Get("syncToken") != "" {
		// Not emulated: a sync token this server never issued is stale.
		writeError(w, errFullSync())
		return
	}
	start := 0
	if pt := q.Get("pageToken"); pt != "" {
		n, ok := s.decodeListPage(pt)
		if !ok {
			writeError(w, errInvalid("pageToken", "Invalid page token value."))
			return
		}
		start = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	page := calendarListPage{Kind: "calendar#calendarList", Items: []calendarListEntry{}}
	var all []*calendarState
	for _, c := range s.visibleLocked() {
		if accessRoles[or(c.info.AccessRole, "owner")] >= minRole {
			all = append(all, c)
		}
	}
	var version int64
	for i, c := range all {
		version += int64(c.infoVersion) + int64(i)
		if i < start {
			continue
		}
		if len(page.Items) == size {
			page.NextPageToken = s.encodeListPage(i)
			break
		}
		page.Items = append(page.Items, s.listEntryLocked(c))
	}
	page.Etag = strconv.Quote(strconv.FormatInt(int64(len(all))<<32+version, 10))
	writeJSON(w, http.StatusOK, page)
}

// handleCalendarListGet is calendarList.get.
func (s *Server) handleCalendarListGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(r.PathValue("calendarId"))
	if c == nil || c.denied != nil {
		writeError(w, errNotFound())
		return
	}
	writeJSON(w, http.StatusOK, s.listEntryLocked(c))
}

// A calendar list page token is the index of the next entry, stamped with
// the Server and a MAC so garbage is refused. An index is enough: the
// emulated list only changes when a test adds or removes calendars.
func (s *Server) encodeListPage(i int) string {
	b := binary.BigEndian.AppendUint64([]byte{'L'}, s.instance)
	b = binary.AppendUvarint(b, uint64(i))
	m := hmac.New(sha256.New, tokenKey)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:len(b)+macLen])
}

func (s *Server) decodeListPage(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+8+1+macLen {
		return 0, false
	}
	body, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	m := hmac.New(sha256.New, tokenKey)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:macLen]) || body[0] != 'L' || binary.BigEndian.Uint64(body[1:9]) != s.instance {
		return 0, false
	}
	n, k := binary.Uvarint(body[9:])
	if k <= 0 || k != len(body)-9 {
		return 0, false
	}
	return int(n), true
}
