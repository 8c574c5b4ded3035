package msgraphtest

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
)

// DefaultTimeZone is the mailboxSettings.timeZone of a new user: "Pacific
// Standard Time", the zone of Microsoft's own mailboxSettings examples, in
// the Windows format that Graph returns unless an administrator chose IANA
// names (https://learn.microsoft.com/en-us/graph/api/user-get-mailboxsettings).
// Set another with [Server.SetTimeZone].
const DefaultTimeZone = "Pacific Standard Time"

// Calendar is the part of a calendar resource
// (https://learn.microsoft.com/en-us/graph/api/resources/calendar) that
// tests read with [Server.Calendars] and change with [Server.SetCalendar].
type Calendar struct {
	// ID is the calendar id; SetCalendar does not change it.
	ID string
	// Name is the display name. Default: "Calendar" for the primary
	// calendar, the id for others.
	Name string
	// Color is Graph's colour theme: "auto" (the default), "lightBlue",
	// "lightGreen", "lightOrange", "lightGray", "lightYellow",
	// "lightTeal", "lightPink", "lightBrown", "lightRed" or "maxColor".
	Color string
	// HexColor is the colour as "#rrggbb", or "" when Color is "auto"
	// (the default).
	HexColor string
	// IsDefault is isDefaultCalendar; SetCalendar does not change it.
	IsDefault bool
	// CanEdit and CanShare say what the mailbox owner may do. Default:
	// true.
	CanEdit  bool
	CanShare bool
	// Owner is the calendar's owner. Default (zero): the mailbox's own
	// user; someone else's address makes it a calendar shared with the
	// user.
	Owner EmailAddress
}

// calendarMeta is a calendar's resource properties.
type calendarMeta struct {
	name, color, hexColor string
	canEdit, canShare     bool
	owner                 EmailAddress
	version               uint64 // bumped by SetCalendar, for changeKey
}

func defaultMeta(mb *mailbox, id string) calendarMeta {
	name := id
	if id == mb.primary {
		name = "Calendar"
	}
	return calendarMeta{name: name, color: "auto", canEdit: true, canShare: true}
}

func (c *calendarState) info(mb *mailbox) Calendar {
	owner := c.meta.owner
	if owner.Address == "" {
		owner = EmailAddress{Name: Event{}.organizerName(mb.id), Address: organizerAddress(mb.id)}
	}
	return Calendar{
		ID: c.id, Name: c.meta.name, Color: c.meta.color, HexColor: c.meta.hexColor,
		IsDefault: c.id == mb.primary, CanEdit: c.meta.canEdit, CanShare: c.meta.canShare, Owner: owner,
	}
}

// calendarsLocked returns the user's calendars, the primary one first.
func (s *Server) calendarsLocked(mb *mailbox) []Calendar {
	out := []Calendar{mb.calendars[mb.primary].info(mb)}
	for _, id := range mb.order {
		if id != mb.primary {
			out = append(out, mb.calendars[id].info(mb))
		}
	}
	return out
}

// Calendars returns the user's calendars as GET /me/calendars lists them,
// the primary one first, then in the order they were added.
func (s *Server) Calendars(user string) ([]Calendar, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil {
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, user)
	}
	return s.calendarsLocked(mb), nil
}

// SetCalendar replaces the name, colours, CanEdit, CanShare and owner of
// the user's calendar c.ID ("" = primary) with those of c; an empty Name
// or Color keeps the current one. Take c from [Server.Calendars] to change
// one field. An unknown calendar is ErrNotFound.
func (s *Server) SetCalendar(user string, c Calendar) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := s.calendarLocked(user, c.ID)
	if err != nil {
		return err
	}
	m := &cs.meta
	if c.Name != "" {
		m.name = c.Name
	}
	if c.Color != "" {
		m.color = c.Color
	}
	m.hexColor, m.canEdit, m.canShare, m.owner = c.HexColor, c.CanEdit, c.CanShare, c.Owner
	m.version++
	return nil
}

// SetTimeZone sets the user's mailboxSettings.timeZone, a Windows ("W.
// Europe Standard Time") or IANA ("Europe/Berlin") name. Default:
// DefaultTimeZone.
func (s *Server) SetTimeZone(user, tz string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil {
		return fmt.Errorf("%w: user %q", ErrNotFound, user)
	}
	mb.timeZone = tz
	return nil
}

// wireCalendar is the calendar resource as Graph writes it.
type wireCalendar struct {
	ID                            string       `json:"id"`
	Name                          string       `json:"name"`
	Color                         string       `json:"color"`
	HexColor                      string       `json:"hexColor"`
	IsDefaultCalendar             bool         `json:"isDefaultCalendar"`
	ChangeKey                     string       `json:"changeKey"`
	CanShare                      bool         `json:"canShare"`
	CanViewPrivateItems           bool         `json:"canViewPrivateItems"`
	CanEdit                       bool         `json:"canEdit"`
	AllowedOnlineMeetingProviders []string     `json:"allowedOnlineMeetingProviders"`
	DefaultOnlineMeetingProvider  string       `json:"defaultOnlineMeetingProvider"`
	IsTallyingResponses           bool         `json:"isTallyingResponses"`
	IsRemovable                   bool         `json:"isRemovable"`
	Owner                         EmailAddress `json:"owner"`
}

func (c *calendarState) wire(pub Calendar) wireCalendar {
	ck := binary.BigEndian.AppendUint64([]byte("DwAAABYAAAB"), c.meta.version)
	ck = append(ck, c.id[:min(len(c.id), 4)]...)
	own := pub.Owner.Address == c.publicOwner()
	return wireCalendar{
		ID: pub.ID, Name: pub.Name, Color: pub.Color, HexColor: pub.HexColor,
		IsDefaultCalendar:             pub.IsDefault,
		ChangeKey:                     base64.StdEncoding.EncodeToString(ck),
		CanShare:                      pub.CanShare,
		CanViewPrivateItems:           own,
		CanEdit:                       pub.CanEdit,
		AllowedOnlineMeetingProviders: []string{"teamsForBusiness"},
		DefaultOnlineMeetingProvider:  "teamsForBusiness",
		IsTallyingResponses:           own,
		IsRemovable:                   !pub.IsDefault,
		Owner:                         pub.Owner,
	}
}

func (c *calendarState) publicOwner() string { return organizerAddress(c.user) }

// listCalendarsHandler serves GET {owner}/calendars: pages of $top
// (default DefaultPageSize, at most MaxPageSize) calendars, the primary
// one first, linked by @odata.nextLink with $skip.
func (s *Server) listCalendarsHandler(owner string) handler {
	return func(w http.ResponseWriter, r *http.Request, req *request) *apiError {
		user := owner
		if user == "" {
			user = req.me
		}
		q := r.URL.Query()
		top, skip := DefaultPageSize, 0
		if v, ok := queryValue(q, "$top"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return newAPIError(http.StatusBadRequest, "BadRequest", "Invalid value '"+v+"' for $top query option found.")
			}
			top = min(n, MaxPageSize)
		}
		if v, ok := queryValue(q, "$skip"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return newAPIError(http.StatusBadRequest, "BadRequest", "Invalid value '"+v+"' for $skip query option found.")
			}
			skip = n
		}
		s.mu.Lock()
		mb := s.users[user]
		if mb == nil {
			s.mu.Unlock()
			return newAPIError(http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+user+"' is invalid.")
		}
		all := s.calendarsLocked(mb)
		page := []wireCalendar{}
		for _, c := range all[min(skip, len(all)):min(skip+top, len(all))] {
			page = append(page, mb.calendars[c.ID].wire(c))
		}
		s.mu.Unlock()
		out := map[string]any{
			"@odata.context": s.base(req) + "/$metadata#users('" + user + "')/calendars",
			"value":          page,
		}
		if skip+top < len(all) {
			path := "/me/calendars"
			if owner != "" {
				path = "/users/" + owner + "/calendars"
			}
			out["@odata.nextLink"] = s.base(req) + path + "?$top=" + strconv.Itoa(top) + "&$skip=" + strconv.Itoa(skip+top)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// mailboxSettingsHandler serves GET {owner}/mailboxSettings with the
// settings a new Exchange Online mailbox has, and the user's time zone.
func (s *Server) mailboxSettingsHandler(owner string) handler {
	return func(w http.ResponseWriter, r *http.Request, req *request) *apiError {
		user := owner
		if user == "" {
			user = req.me
		}
		s.mu.Lock()
		mb := s.users[user]
		tz := ""
		if mb != nil {
			tz = mb.timeZone
		}
		s.mu.Unlock()
		if mb == nil {
			return newAPIError(http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+user+"' is invalid.")
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context":                        s.base(req) + "/$metadata#users('" + user + "')/mailboxSettings",
			"timeZone":                              tz,
			"dateFormat":                            "M/d/yyyy",
			"timeFormat":                            "h:mm tt",
			"userPurpose":                           "user",
			"delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
			"language":                              map[string]string{"locale": "en-US", "displayName": "English (United States)"},
			"automaticRepliesSetting": map[string]any{
				"status":                 "disabled",
				"externalAudience":       "all",
				"internalReplyMessage":   "",
				"externalReplyMessage":   "",
				"scheduledStartDateTime": map[string]string{"dateTime": "2020-01-01T00:00:00.0000000", "timeZone": "UTC"},
				"scheduledEndDateTime":   map[string]string{"dateTime": "2020-01-02T00:00:00.0000000", "timeZone": "UTC"},
			},
			"workingHours": map[string]any{
				"daysOfWeek": []string{"monday", "tuesday", "wednesday", "thursday", "friday"},
				"startTime":  "08:00:00.0000000",
				"endTime":    "17:00:00.0000000",
				"timeZone":   map[string]string{"name": tz},
			},
		})
		return nil
	}
}
