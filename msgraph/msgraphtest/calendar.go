package msgraphtest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Event is a calendar event as the Go-side methods of [Server] take and
// return it. On create and update the writable fields are Subject, Body,
// BodyType, Location, Start, End, IsAllDay, ShowAs, Sensitivity,
// Attendees, IsOnlineMeeting, OnlineMeetingProvider and Recurrence, and,
// through the Go methods only, Organizer and Response; the others are set
// by the server.
type Event struct {
	ID       string
	Subject  string
	Body     string // body.content
	BodyType string // body.contentType: "text" (the default) or "html"
	Location string // location.displayName
	Start    time.Time
	End      time.Time
	IsAllDay bool
	// ShowAs is "free", "tentative", "busy" (the default), "oof",
	// "workingElsewhere" or "unknown".
	ShowAs string
	// Sensitivity is "normal" (the default), "personal", "private" or
	// "confidential".
	Sensitivity string
	// Attendees are the attendees and their answers.
	Attendees []Attendee
	// Organizer, when set, makes the event an invitation from that
	// organizer (isOrganizer false), as it appears in an attendee's
	// mailbox; nil means the mailbox owner organizes it. Only the Go
	// methods set it: Graph makes the creator the organizer.
	Organizer *EmailAddress
	// Response is the owner's responseStatus.response: "organizer" (the
	// default) for the owner's own events, "notResponded" (the default),
	// "tentativelyAccepted", "accepted" or "declined" for an invitation.
	Response string
	// IsOnlineMeeting asks for an online meeting; the server then sets
	// JoinURL (onlineMeeting.joinUrl) and keeps it, and
	// OnlineMeetingProvider defaults to "teamsForBusiness".
	IsOnlineMeeting       bool
	OnlineMeetingProvider string
	JoinURL               string
	// Recurrence makes the event a series master (write it on create or on
	// a master).
	Recurrence *PatternedRecurrence

	// Type is "singleInstance", "seriesMaster", "occurrence" or
	// "exception".
	Type string
	// SeriesMasterID and OriginalStart are set on occurrences and
	// exceptions.
	SeriesMasterID string
	OriginalStart  time.Time
	ICalUID        string
	ChangeKey      string
	Created        time.Time
	LastModified   time.Time
}

type mailbox struct {
	id        string
	primary   string
	calendars map[string]*calendarState
	order     []string
	timeZone  string // mailboxSettings.timeZone
}

// calendarState is one calendar and its change log. Every write bumps seq
// and stamps, with the new seq, every instance id (as calendarView shows
// them: singles, occurrences, exceptions) and every event id (singles and
// masters) whose representation changed or that disappeared. A delta round
// returns the ids stamped after its token's seq.
type calendarState struct {
	user        string
	id          string
	seq         int64
	epoch       int64  // delta tokens of older epochs are expired
	expiredCode string // error code for expired tokens
	meta        calendarMeta
	events      map[string]*eventState
	instSeq     map[string]int64
	evSeq       map[string]int64
}

type eventState struct {
	ev        Event
	raw       []byte
	deleted   bool
	overrides map[int64]*override // by original start, UnixNano
}

type override struct {
	cancelled bool
	ev        Event
}

// Event ids are opaque to clients but structured here: base64url of a
// fixed prefix, a kind byte, the event's random bytes and, for occurrences,
// the original start. Real Graph ids are base64 strings starting "AAMk".
var idPrefix = []byte{0x00, 0x03, 0x24, 0x00}

const (
	kindEventID      = 'E'
	kindOccurrenceID = 'O'
)

func eventID(raw []byte) string {
	b := append(append(append([]byte{}, idPrefix...), kindEventID), raw...)
	return base64.URLEncoding.EncodeToString(b)
}

func occurrenceID(raw []byte, orig time.Time) string {
	b := append(append(append([]byte{}, idPrefix...), kindOccurrenceID), raw...)
	b = binary.BigEndian.AppendUint64(b, uint64(orig.UnixNano()))
	return base64.URLEncoding.EncodeToString(b)
}

// parseOccurrenceID returns the master id and original start of an
// occurrence id.
func parseOccurrenceID(id string) (string, time.Time, bool) {
	b, err := base64.URLEncoding.DecodeString(id)
	if err != nil || len(b) != len(idPrefix)+1+eventRawLen+8 || !bytes.HasPrefix(b, idPrefix) || b[len(idPrefix)] != kindOccurrenceID {
		return "", time.Time{}, false
	}
	raw := b[len(idPrefix)+1 : len(idPrefix)+1+eventRawLen]
	ns := int64(binary.BigEndian.Uint64(b[len(b)-8:]))
	return eventID(raw), time.Unix(0, ns).UTC(), true
}

const eventRawLen = 21

// AddUser adds a mailbox with a primary calendar, if it does not exist.
// The first user added is "me" for requests whose token is not mapped with
// [Server.MapToken]. id is used as the user's object id in resource paths
// (Users/{id}/Events/{id}) and as creatorId.
func (s *Server) AddUser(id string) {
	if id == "" {
		panic("msgraphtest: AddUser with empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(id)
}

func (s *Server) addUserLocked(id string) *mailbox {
	if mb := s.users[id]; mb != nil {
		return mb
	}
	mb := &mailbox{id: id, calendars: map[string]*calendarState{}, timeZone: DefaultTimeZone}
	mb.primary = "AQMk" + base64.URLEncoding.EncodeToString(s.randBytesLocked(30))
	s.users[id] = mb
	s.userOrder = append(s.userOrder, id)
	s.addCalendarLocked(mb, mb.primary)
	return mb
}

func (s *Server) addCalendarLocked(mb *mailbox, id string) *calendarState {
	if c := mb.calendars[id]; c != nil {
		return c
	}
	c := &calendarState{
		user: mb.id, id: id,
		events:  map[string]*eventState{},
		instSeq: map[string]int64{},
		evSeq:   map[string]int64{},
		meta:    defaultMeta(mb, id),
	}
	mb.calendars[id] = c
	mb.order = append(mb.order, id)
	return c
}

// AddCalendar adds a (secondary) calendar with the given id to the user's
// mailbox, adding the user if needed. It does nothing if it exists.
func (s *Server) AddCalendar(user, calendarID string) {
	if user == "" || calendarID == "" {
		panic("msgraphtest: AddCalendar with empty user or calendar id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addCalendarLocked(s.addUserLocked(user), calendarID)
}

// DeleteCalendar removes a secondary calendar with its events, as when its
// owner deletes it or stops sharing it: later delta and event calls on it
// answer 404 ErrorItemNotFound, a new subscription to it 404
// ResourceNotFound, and subscriptions to it hear nothing more. The primary calendar cannot be deleted; an unknown
// one is ErrNotFound.
func (s *Server) DeleteCalendar(user, calendarID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil || mb.calendars[calendarID] == nil {
		return fmt.Errorf("%w: calendar %q of user %q", ErrNotFound, calendarID, user)
	}
	if calendarID == mb.primary {
		return fmt.Errorf("msgraphtest: the primary calendar of %q cannot be deleted", user)
	}
	delete(mb.calendars, calendarID)
	mb.order = slices.DeleteFunc(mb.order, func(id string) bool { return id == calendarID })
	return nil
}

// PrimaryCalendar returns the id of the user's primary calendar, or "" for
// an unknown user.
func (s *Server) PrimaryCalendar(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mb := s.users[user]; mb != nil {
		return mb.primary
	}
	return ""
}

// calendarLocked finds a calendar; calendar "" or primaryCalendar is the
// primary one.
func (s *Server) calendarLocked(user, calendar string) (*calendarState, error) {
	mb := s.users[user]
	if mb == nil {
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, user)
	}
	if calendar == "" || calendar == primaryCalendar {
		calendar = mb.primary
	}
	c := mb.calendars[calendar]
	if c == nil {
		return nil, fmt.Errorf("%w: calendar %q of user %q", ErrNotFound, calendar, user)
	}
	return c, nil
}

// validateEvent checks the writable fields and fills defaults.
func validateEvent(ev *Event) error {
	if ev.Start.IsZero() || ev.End.IsZero() {
		return fmt.Errorf("msgraphtest: event start and end are required")
	}
	if ev.End.Before(ev.Start) {
		return fmt.Errorf("msgraphtest: event end %v is before start %v", ev.End, ev.Start)
	}
	ev.Start, ev.End = ev.Start.UTC(), ev.End.UTC()
	if err := validateDetails(ev); err != nil {
		return fmt.Errorf("msgraphtest: %v", err)
	}
	if ev.Recurrence != nil {
		rec := *ev.Recurrence
		rec.Pattern.DaysOfWeek = append([]string(nil), rec.Pattern.DaysOfWeek...)
		if err := rec.normalize(ev.Start); err != nil {
			return fmt.Errorf("msgraphtest: %v", err)
		}
		ev.Recurrence = &rec
	}
	return nil
}

// CreateEvent adds an event to the user's calendar ("" = primary) and
// notifies subscriptions ("created", and "updated" unless
// Config.ExactNotifications). ev.Recurrence makes it a series
// master whose occurrences calendarView expands.
func (s *Server) CreateEvent(user, calendar string, ev Event) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createEventLocked(user, calendar, ev)
}

func (s *Server) createEventLocked(user, calendar string, ev Event) (Event, error) {
	c, err := s.calendarLocked(user, calendar)
	if err != nil {
		return Event{}, err
	}
	if err := validateEvent(&ev); err != nil {
		return Event{}, err
	}
	now := s.cfg.Now().UTC()
	es := &eventState{raw: s.randBytesLocked(eventRawLen), overrides: map[int64]*override{}}
	ev.ID = eventID(es.raw)
	ev.ICalUID = fmt.Sprintf("040000008200E00074C5B7101A82E00800000000%X", es.raw[:16])
	ev.Created, ev.LastModified = now, now
	ev.Type = "singleInstance"
	if ev.Recurrence != nil {
		ev.Type = "seriesMaster"
	}
	ev.SeriesMasterID, ev.OriginalStart = "", time.Time{}
	stampResponses(&ev, nil, now)
	s.onlineMeetingLocked(&ev, Event{})
	es.ev = ev
	c.events[ev.ID] = es
	c.seq++
	c.stamp(es, nil)
	s.notifyCreatedLocked(c, ev.ID)
	return c.public(es.ev, c.evSeq[ev.ID]), nil
}

// UpdateEvent replaces the writable fields of an event and notifies
// subscriptions ("updated", 1 to 3 times unless Config.ExactNotifications). id may be a single event, a series master
// (changing its start or recurrence drops its exceptions, as Outlook does)
// or an occurrence, which becomes an exception with its own fields
// (Recurrence is ignored). For an occurrence the series master is notified
// "updated", after the occurrence itself unless Config.ExactNotifications.
func (s *Server) UpdateEvent(user, calendar, id string, ev Event) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateEventLocked(user, calendar, id, func(old Event) (Event, error) { return ev, nil })
}

// updateEventLocked applies patch to the current fields of id.
func (s *Server) updateEventLocked(user, calendar, id string, patch func(old Event) (Event, error)) (Event, error) {
	c, err := s.calendarLocked(user, calendar)
	if err != nil {
		return Event{}, err
	}
	now := s.cfg.Now().UTC()
	if es := c.events[id]; es != nil && !es.deleted {
		ev, err := patch(es.ev)
		if err != nil {
			return Event{}, err
		}
		if es.ev.Type == "singleInstance" {
			ev.Recurrence = nil // Graph does not turn an event into a series by update either
		} else if ev.Recurrence == nil {
			ev.Recurrence = es.ev.Recurrence
		}
		if err := validateEvent(&ev); err != nil {
			return Event{}, err
		}
		before := c.instanceIDs(es)
		old := es.ev
		ev.ID, ev.ICalUID, ev.Created, ev.Type = old.ID, old.ICalUID, old.Created, old.Type
		ev.LastModified = now
		stampResponses(&ev, old.Attendees, now)
		s.onlineMeetingLocked(&ev, old)
		if old.Type == "seriesMaster" && (!ev.Start.Equal(old.Start) || !sameRecurrence(ev.Recurrence, old.Recurrence)) {
			clear(es.overrides)
		}
		es.ev = ev
		c.seq++
		c.stamp(es, before)
		s.notifyUpdatedLocked(c, ev.ID)
		return c.public(es.ev, c.evSeq[ev.ID]), nil
	}
	es, orig, err := c.occurrence(id)
	if err != nil {
		return Event{}, err
	}
	cur := c.instance(es, orig)
	ev, err := patch(cur)
	if err != nil {
		return Event{}, err
	}
	ev.Recurrence = nil
	if err := validateEvent(&ev); err != nil {
		return Event{}, err
	}
	ev.ID, ev.ICalUID, ev.Created = id, es.ev.ICalUID, es.ev.Created
	ev.Type, ev.SeriesMasterID, ev.OriginalStart = "exception", es.ev.ID, orig
	ev.LastModified = now
	stampResponses(&ev, cur.Attendees, now)
	s.onlineMeetingLocked(&ev, cur)
	es.overrides[orig.UnixNano()] = &override{ev: ev}
	c.seq++
	c.instSeq[id] = c.seq
	c.evSeq[es.ev.ID] = c.seq
	s.notifyOccurrenceLocked(c, changeUpdated, id, es.ev.ID)
	return c.public(ev, c.seq), nil
}

// DeleteEvent deletes a single event or a whole series ("deleted"), or
// cancels one occurrence of a series (the master is notified "updated",
// after the occurrence "deleted" unless Config.ExactNotifications):
// the next calendarView delta round reports the removed instances with
// @removed.
func (s *Server) DeleteEvent(user, calendar, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteEventLocked(user, calendar, id)
}

func (s *Server) deleteEventLocked(user, calendar, id string) error {
	c, err := s.calendarLocked(user, calendar)
	if err != nil {
		return err
	}
	if es := c.events[id]; es != nil && !es.deleted {
		before := c.instanceIDs(es)
		es.deleted = true
		c.seq++
		c.stamp(es, before)
		s.notifyLocked(c, changeDeleted, id)
		return nil
	}
	es, orig, err := c.occurrence(id)
	if err != nil {
		return err
	}
	es.overrides[orig.UnixNano()] = &override{cancelled: true}
	c.seq++
	c.instSeq[id] = c.seq
	c.evSeq[es.ev.ID] = c.seq
	s.notifyOccurrenceLocked(c, changeDeleted, id, es.ev.ID)
	return nil
}

// occurrence resolves a live, not cancelled occurrence id.
func (c *calendarState) occurrence(id string) (*eventState, time.Time, error) {
	masterID, orig, ok := parseOccurrenceID(id)
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%w: event %q", ErrNotFound, id)
	}
	es := c.events[masterID]
	if es == nil || es.deleted || es.ev.Recurrence == nil {
		return nil, time.Time{}, fmt.Errorf("%w: event %q", ErrNotFound, id)
	}
	if ov := es.overrides[orig.UnixNano()]; ov != nil && ov.cancelled {
		return nil, time.Time{}, fmt.Errorf("%w: event %q (cancelled occurrence)", ErrNotFound, id)
	}
	for _, t := range expand(es.ev.Start, es.ev.Recurrence) {
		if t.Equal(orig) {
			return es, orig, nil
		}
	}
	return nil, time.Time{}, fmt.Errorf("%w: event %q", ErrNotFound, id)
}

func sameRecurrence(a, b *PatternedRecurrence) bool {
	if a == nil || b == nil {
		return a == b
	}
	return fmt.Sprint(*a) == fmt.Sprint(*b)
}

// stamp records a write at c.seq: the event id and every instance id before
// (nil for a new event) and after the write.
func (c *calendarState) stamp(es *eventState, before []string) {
	c.evSeq[es.ev.ID] = c.seq
	for _, id := range before {
		c.instSeq[id] = c.seq
	}
	for _, id := range c.instanceIDs(es) {
		c.instSeq[id] = c.seq
	}
}

// instanceIDs returns the ids calendarView shows for es now (any window).
func (c *calendarState) instanceIDs(es *eventState) []string {
	insts := c.instances(es)
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	return ids
}

// instances returns what calendarView shows for es: the single event, or
// the occurrences and exceptions of a series (not the master, not cancelled
// occurrences).
func (c *calendarState) instances(es *eventState) []Event {
	if es.deleted {
		return nil
	}
	if es.ev.Recurrence == nil {
		return []Event{es.ev}
	}
	var out []Event
	for _, orig := range expand(es.ev.Start, es.ev.Recurrence) {
		if ov := es.overrides[orig.UnixNano()]; ov != nil && ov.cancelled {
			continue
		}
		out = append(out, c.instance(es, orig))
	}
	return out
}

// instance returns the occurrence or exception of es at orig.
func (c *calendarState) instance(es *eventState, orig time.Time) Event {
	if ov := es.overrides[orig.UnixNano()]; ov != nil && !ov.cancelled {
		return ov.ev
	}
	m := es.ev
	return Event{
		ID:                    occurrenceID(es.raw, orig),
		Subject:               m.Subject,
		Body:                  m.Body,
		BodyType:              m.BodyType,
		Location:              m.Location,
		Start:                 orig,
		End:                   orig.Add(m.End.Sub(m.Start)),
		IsAllDay:              m.IsAllDay,
		ShowAs:                m.ShowAs,
		Sensitivity:           m.Sensitivity,
		Attendees:             m.Attendees,
		Organizer:             m.Organizer,
		Response:              m.Response,
		IsOnlineMeeting:       m.IsOnlineMeeting,
		OnlineMeetingProvider: m.OnlineMeetingProvider,
		JoinURL:               m.JoinURL,
		Type:                  "occurrence",
		SeriesMasterID:        m.ID,
		OriginalStart:         orig,
		ICalUID:               m.ICalUID,
		Created:               m.Created,
		LastModified:          m.LastModified,
	}
}

// allInstances returns every current instance of the calendar by id.
func (c *calendarState) allInstances() map[string]Event {
	out := map[string]Event{}
	for _, es := range c.events {
		for _, in := range c.instances(es) {
			out[in.ID] = in
		}
	}
	return out
}

// public returns a copy of ev for Go callers with its change key.
func (c *calendarState) public(ev Event, seq int64) Event {
	if ev.Recurrence != nil {
		r := *ev.Recurrence
		r.Pattern.DaysOfWeek = append([]string(nil), r.Pattern.DaysOfWeek...)
		ev.Recurrence = &r
	}
	ev.Attendees = slices.Clone(ev.Attendees)
	if ev.Organizer != nil {
		o := *ev.Organizer
		ev.Organizer = &o
	}
	ev.ChangeKey = changeKey(c.id, seq)
	return ev
}

func changeKey(calendar string, seq int64) string {
	b := binary.BigEndian.AppendUint64([]byte("CQAAABYAAAC"), uint64(seq))
	b = append(b, calendar[:min(len(calendar), 4)]...)
	return base64.StdEncoding.EncodeToString(b)
}

// inWindow reports whether an instance overlaps [start, end), as
// calendarView selects.
func inWindow(ev Event, start, end time.Time) bool {
	if !ev.Start.Before(end) {
		return false
	}
	return ev.End.After(start) || (ev.End.Equal(ev.Start) && !ev.Start.Before(start))
}

// Events returns what a fresh calendarView of [start, end) on the user's
// calendar ("" = primary) shows: single events, occurrences and exceptions
// (not series masters, not cancelled occurrences), ordered by start then
// id, as copies.
func (s *Server) Events(user, calendar string, start, end time.Time) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calendarLocked(user, calendar)
	if err != nil {
		return nil, err
	}
	var out []Event
	for id, in := range c.allInstances() {
		if inWindow(in, start, end) {
			out = append(out, c.public(in, c.instSeq[id]))
		}
	}
	sortEvents(out)
	return out, nil
}

// Event returns one event by id: a single event, a series master, an
// occurrence or an exception.
func (s *Server) Event(user, calendar, id string) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calendarLocked(user, calendar)
	if err != nil {
		return Event{}, err
	}
	return c.get(id)
}

func (c *calendarState) get(id string) (Event, error) {
	if es := c.events[id]; es != nil && !es.deleted {
		return c.public(es.ev, c.evSeq[id]), nil
	}
	es, orig, err := c.occurrence(id)
	if err != nil {
		return Event{}, err
	}
	return c.public(c.instance(es, orig), c.instSeq[id]), nil
}

func sortEvents(evs []Event) {
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].Start.Equal(evs[j].Start) {
			return evs[i].Start.Before(evs[j].Start)
		}
		return strings.Compare(evs[i].ID, evs[j].ID) < 0
	})
}
