package googletest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fields holds the client-writable members of an event, as sent by the
// client (never JSON null: a null in a patch deletes the member).
type fields map[string]json.RawMessage

func (f fields) clone() fields {
	out := make(fields, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}

func (f fields) str(key string) string {
	var s string
	if raw, ok := f[key]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

func (f fields) setStr(key, v string) {
	b, _ := json.Marshal(v)
	f[key] = b
}

// readOnlyMembers are server-managed: they are ignored in request bodies.
var readOnlyMembers = map[string]bool{
	"kind": true, "etag": true, "id": true, "htmlLink": true, "created": true,
	"updated": true, "creator": true, "organizer": true, "iCalUID": true,
	"recurringEventId": true, "originalStartTime": true, "hangoutLink": true,
}

// memberOrder is the order members are rendered in; it follows a real
// events.list response. Members not listed follow in lexical order.
var memberOrder = []string{
	"kind", "etag", "id", "status", "htmlLink", "created", "updated",
	"summary", "description", "location", "colorId", "creator", "organizer",
	"start", "end", "endTimeUnspecified", "recurrence", "recurringEventId",
	"originalStartTime", "transparency", "visibility", "iCalUID", "sequence",
	"attendees", "extendedProperties", "hangoutLink", "conferenceData",
	"reminders", "eventType",
}

var memberRank = func() map[string]int {
	m := make(map[string]int, len(memberOrder))
	for i, k := range memberOrder {
		m[k] = i
	}
	return m
}()

// eventDateTime is the EventDateTime of an event's start and end
// (https://developers.google.com/workspace/calendar/api/v3/reference/events).
type eventDateTime struct {
	Date     string `json:"date,omitempty"`
	DateTime string `json:"dateTime,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

// when is a resolved start or end.
type when struct {
	allDay bool
	// t is the instant of a timed value, or midnight UTC of an all-day date
	// (see instant for the calendar-local instant).
	t time.Time
	// loc is the zone used for wall-clock arithmetic: the timeZone member,
	// else the offset of the dateTime, else UTC for dates.
	loc    *time.Location
	tzName string
}

// instant returns the moment w starts; all-day dates start at midnight in
// the calendar's time zone.
func (w when) instant(cal *time.Location) time.Time {
	if !w.allDay {
		return w.t
	}
	y, m, d := w.t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, cal)
}

const dateLayout = "2006-01-02"

func parseWhen(raw json.RawMessage, which string) (eventDateTime, when, *apiError) {
	var edt eventDateTime
	if len(raw) == 0 {
		return edt, when{}, errRequired(fmt.Sprintf("Missing %s time.", which))
	}
	if err := json.Unmarshal(raw, &edt); err != nil {
		return edt, when{}, errInvalid("", fmt.Sprintf("Invalid value for: %s", which))
	}
	switch {
	case edt.Date != "" && edt.DateTime != "":
		return edt, when{}, errInvalid("", fmt.Sprintf("Invalid %s time: set either date or dateTime, not both.", which))
	case edt.Date != "":
		t, err := time.Parse(dateLayout, edt.Date)
		if err != nil {
			return edt, when{}, errInvalid("", fmt.Sprintf("Invalid %s time.", which))
		}
		w := when{allDay: true, t: t, loc: time.UTC, tzName: edt.TimeZone}
		return edt, w, nil
	case edt.DateTime != "":
		var loc *time.Location
		if edt.TimeZone != "" {
			l, err := loadZone(edt.TimeZone)
			if err != nil {
				return edt, when{}, errInvalid("", fmt.Sprintf("Invalid time zone definition for %s time.", which))
			}
			loc = l
		}
		t, err := time.Parse(time.RFC3339Nano, edt.DateTime)
		if err != nil {
			if loc == nil {
				return edt, when{}, errInvalid("", fmt.Sprintf("Missing time zone definition for %s time.", which))
			}
			t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", edt.DateTime, loc)
			if err != nil {
				return edt, when{}, errInvalid("", fmt.Sprintf("Invalid %s time.", which))
			}
		}
		if loc == nil {
			loc = t.Location()
		}
		return edt, when{t: t, loc: loc, tzName: edt.TimeZone}, nil
	}
	return edt, when{}, errRequired(fmt.Sprintf("Missing %s time.", which))
}

// eventInfo is what the server interprets of an event's fields.
type eventInfo struct {
	startRaw, endRaw eventDateTime
	start, end       when
	rec              *recurrence
	status           string
}

var validStatus = map[string]bool{"confirmed": true, "tentative": true, "cancelled": true}

// checkEvent validates an event body. instance reports whether it is an
// instance of a recurring event (which cannot carry a recurrence).
func checkEvent(f fields, instance bool) (*eventInfo, *apiError) {
	info := &eventInfo{status: "confirmed"}
	if raw, ok := f["status"]; ok {
		var st string
		if json.Unmarshal(raw, &st) != nil || !validStatus[st] {
			return nil, errInvalid("", "Invalid value for: status")
		}
		info.status = st
	}
	for _, k := range []string{"summary", "description", "location"} {
		if raw, ok := f[k]; ok {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, errInvalid("", "Invalid value for: "+k)
			}
		}
	}
	var e *apiError
	if info.startRaw, info.start, e = parseWhen(f["start"], "start"); e != nil {
		return nil, e
	}
	if info.endRaw, info.end, e = parseWhen(f["end"], "end"); e != nil {
		return nil, e
	}
	if info.start.allDay != info.end.allDay {
		return nil, errInvalid("", "Start and end times must either both be date or both be dateTime.")
	}
	if !info.end.t.After(info.start.t) {
		e := newAPIError(http.StatusBadRequest, "timeRangeEmpty", "")
		e.locationType, e.location = "", ""
		return nil, e
	}
	if raw, ok := f["recurrence"]; ok {
		var lines []string
		if json.Unmarshal(raw, &lines) != nil {
			return nil, errInvalid("", "Invalid value for: recurrence")
		}
		if len(lines) > 0 {
			if instance {
				return nil, errInvalid("", "An instance of a recurring event cannot have a recurrence.")
			}
			if !info.start.allDay && info.startRaw.TimeZone == "" {
				return nil, errInvalid("", "Missing time zone definition for start time.")
			}
			rec, err := parseRecurrence(lines)
			if err != nil {
				return nil, errInvalid("", "Invalid recurrence rule: "+err.Error())
			}
			info.rec = rec
		}
	}
	return info, nil
}

// member is one rendered object member.
type member struct {
	key string
	val json.RawMessage
}

func renderObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// formatTime renders an RFC 3339 UTC time with milliseconds, as Google does.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// htmlLink mimics Google's event links: eid is the base64 of "<event id>
// <calendar id>".
func htmlLink(eventID, calendarID string) string {
	eid := base64.RawURLEncoding.EncodeToString([]byte(eventID + " " + calendarID))
	return "https://www.google.com/calendar/event?eid=" + eid
}

// render returns the Event resource of r as the API shows it.
func (c *calendarState) render(r *row) []byte {
	etag := jsonString(`"` + strconv.FormatInt(r.etag, 10) + `"`)
	if r.cancelled {
		// Of a deleted event only id is guaranteed; of a cancelled exception
		// also recurringEventId and originalStartTime (Event resource, status).
		ms := []member{
			{"kind", jsonString("calendar#event")},
			{"etag", etag},
			{"id", jsonString(r.id)},
			{"status", jsonString("cancelled")},
			{"updated", jsonString(formatTime(r.updated))},
		}
		if r.kind == kindInstance {
			orig, _ := json.Marshal(r.orig)
			ms = append(ms, member{"recurringEventId", jsonString(r.seriesID)}, member{"originalStartTime", orig})
		}
		return renderObject(ms)
	}
	all := make(map[string]json.RawMessage, len(r.body)+12)
	for k, v := range r.body {
		all[k] = v
	}
	all["kind"] = jsonString("calendar#event")
	all["etag"] = etag
	all["id"] = jsonString(r.id)
	all["htmlLink"] = jsonString(htmlLink(r.id, c.id))
	all["created"] = jsonString(formatTime(r.created))
	all["updated"] = jsonString(formatTime(r.updated))
	all["creator"], _ = json.Marshal(person{Email: c.id, Self: true})
	c.renderDetails(all, r.body)
	all["iCalUID"] = jsonString(r.iCalUID)
	if r.kind == kindInstance {
		all["recurringEventId"] = jsonString(r.seriesID)
		orig, _ := json.Marshal(r.orig)
		all["originalStartTime"] = orig
		delete(all, "recurrence")
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ra, oka := memberRank[a]
		rb, okb := memberRank[b]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	ms := make([]member, len(keys))
	for i, k := range keys {
		ms[i] = member{k, all[k]}
	}
	return renderObject(ms)
}

// isEventID reports whether id is a valid client-supplied event id:
// base32hex characters (a-v, 0-9), 5 to 1024 long, as the Event resource
// documents for id.
func isEventID(id string) bool {
	if len(id) < 5 || len(id) > 1024 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'v' || ch >= '0' && ch <= '9') {
			return false
		}
	}
	return true
}

// decodeBody reads a JSON object body into members.
func decodeBody(r *http.Request, w http.ResponseWriter) (map[string]json.RawMessage, *apiError) {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, "badRequest", "Request Entity Too Large")
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, errParse()
	}
	return m, nil
}

// zones caches time.LoadLocation, which parses zone data on every call.
var zones sync.Map // name -> *time.Location

func loadZone(name string) (*time.Location, error) {
	if v, ok := zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "Local" || name == "" {
		return nil, fmt.Errorf("time zone %q is not an IANA name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}
