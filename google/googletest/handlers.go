package googletest

import (
	"encoding/json"
	"net/http"
)

// handleGet serves events.get; cancelled events are returned too, as the
// Event resource documents.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(r.PathValue("calendarId"))
	if c == nil {
		writeError(w, errNotFound())
		return
	}
	row := c.rows[r.PathValue("eventId")]
	if row == nil {
		writeError(w, errNotFound())
		return
	}
	writeRaw(w, http.StatusOK, c.render(row))
}

// writableFields drops the read-only members of a request body.
func writableFields(m map[string]json.RawMessage) fields {
	f := fields{}
	for k, v := range m {
		if readOnlyMembers[k] || string(v) == "null" {
			continue
		}
		f[k] = v
	}
	return f
}

// handleInsert serves events.insert, and events.import when importing is
// set: import takes the organizer from the body and requires iCalUID
// (Event resource: organizer is "read-only, except when importing an
// event").
func (s *Server) handleInsert(importing bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		opt, e := parseWriteOptions(r)
		if e != nil {
			writeError(w, e)
			return
		}
		opt.importing = importing
		body, e := decodeBody(r, w)
		if e != nil {
			writeError(w, e)
			return
		}
		out, e := s.insert(r.PathValue("calendarId"), body, opt)
		if e != nil {
			writeError(w, e)
			return
		}
		writeRaw(w, http.StatusOK, out)
	}
}

// insert creates an event from a request body and returns its resource.
func (s *Server) insert(calendarID string, body map[string]json.RawMessage, opt writeOptions) ([]byte, *apiError) {
	var id, iCalUID string
	if raw, ok := body["id"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &id) != nil || !isEventID(id) {
			return nil, errInvalid("", "Invalid resource id value.")
		}
	}
	if raw, ok := body["iCalUID"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &iCalUID) != nil {
			return nil, errInvalid("", "Invalid value for: iCalUID")
		}
	}
	if opt.importing && iCalUID == "" {
		return nil, errRequired("Missing iCalUID.")
	}
	f := writableFields(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(calendarID)
	if c == nil {
		return nil, errNotFound()
	}
	if e := s.prepareDetails(f, body, nil, opt); e != nil {
		return nil, e
	}
	if id == "" {
		id = s.newEventID(c)
	} else if _, taken := c.rows[id]; taken {
		return nil, newAPIError(http.StatusConflict, "duplicate", "")
	}
	row, e := c.insertEvent(id, f, iCalUID, s.cfg.Now())
	if e != nil {
		return nil, e
	}
	s.changedLocked(c)
	return c.render(row), nil
}

// handleWrite serves events.patch (merge of the top-level members sent; null
// clears a member) and events.update (replacement).
func (s *Server) handleWrite(patch bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		opt, e := parseWriteOptions(r)
		if e != nil {
			writeError(w, e)
			return
		}
		body, e := decodeBody(r, w)
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
		row := c.rows[r.PathValue("eventId")]
		if row == nil {
			writeError(w, errNotFound())
			return
		}
		var f fields
		if patch {
			f = row.baseFields()
			for k, v := range body {
				if readOnlyMembers[k] {
					continue
				}
				if string(v) == "null" {
					delete(f, k)
				} else {
					f[k] = v
				}
			}
		} else {
			f = writableFields(body)
			base := row.baseFields()
			// Members Google fills in when absent.
			for _, k := range []string{"sequence", "reminders", "eventType"} {
				if _, ok := f[k]; !ok {
					if v, ok := base[k]; ok {
						f[k] = v
					}
				}
			}
			if _, ok := f["status"]; !ok {
				f.setStr("status", "confirmed")
			}
		}
		if row.kind == kindInstance {
			if _, ok := f["recurrence"]; ok {
				writeError(w, errInvalid("", "An instance of a recurring event cannot have a recurrence."))
				return
			}
		}
		if e := s.prepareDetails(f, body, row.baseFields(), opt); e != nil {
			writeError(w, e)
			return
		}
		if e := c.writeEvent(row, f, s.cfg.Now()); e != nil {
			writeError(w, e)
			return
		}
		s.changedLocked(c)
		writeRaw(w, http.StatusOK, c.render(row))
	}
}

// handleDelete serves events.delete: 204 on success, 410 "deleted" for an
// event already deleted, 404 for an unknown one
// (https://developers.google.com/workspace/calendar/api/guides/errors).
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(r.PathValue("calendarId"))
	if c == nil {
		writeError(w, errNotFound())
		return
	}
	row := c.rows[r.PathValue("eventId")]
	if row == nil {
		writeError(w, errNotFound())
		return
	}
	if e := c.deleteEvent(row, s.cfg.Now()); e != nil {
		writeError(w, e)
		return
	}
	s.changedLocked(c)
	w.WriteHeader(http.StatusNoContent)
}

// handleInstances serves events.instances: the instances of a recurring
// event within timeMin/timeMax, cancelled ones only with showDeleted=true,
// all in one page (maxResults and pageToken are not supported).
func (s *Server) handleInstances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq := &listQuery{}
	var e *apiError
	if lq.showDeleted, _, e = parseBool(q, "showDeleted"); e != nil {
		writeError(w, e)
		return
	}
	if lq.timeMin, e = parseTimeParam(q, "timeMin"); e != nil {
		writeError(w, e)
		return
	}
	if lq.timeMax, e = parseTimeParam(q, "timeMax"); e != nil {
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
	series := c.rows[r.PathValue("eventId")]
	if series == nil || series.kind != kindSeries {
		writeError(w, errNotFound())
		return
	}
	items := []json.RawMessage{}
	for _, id := range series.instances {
		in := c.rows[id]
		if (in.cancelled && !lq.showDeleted) || (!in.cancelled && !c.inTimeRange(in, lq)) {
			continue
		}
		items = append(items, c.render(in))
	}
	writeJSON(w, http.StatusOK, eventsResponse{
		Kind:             "calendar#events",
		Etag:             c.collectionEtag(),
		Summary:          c.id,
		Updated:          formatTime(c.updated),
		TimeZone:         c.tzName,
		AccessRole:       "owner",
		DefaultReminders: []json.RawMessage{},
		Items:            items,
	})
}
