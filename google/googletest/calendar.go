package googletest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"time"
)

type rowKind int

const (
	kindSingle   rowKind = iota // a one-off event
	kindSeries                  // a recurring event (has recurrence)
	kindInstance                // one occurrence of a series, possibly an exception
)

// row is one event id of a calendar and the change-log entry for it: every
// visible change stamps it with the calendar's next sequence number. Rows
// are never removed; a deletion leaves a cancelled tombstone.
type row struct {
	id      string
	kind    rowKind
	created time.Time
	iCalUID string
	// own is the event of a single or series row; for an instance it holds
	// the exception's fields, nil while the instance is plain.
	own fields

	// Instance rows only.
	seriesID string
	orig     eventDateTime // originalStartTime
	inSet    bool          // still an occurrence of the series' recurrence
	derived  fields        // the plain instance, derived from the series

	// Series rows only: the ids of all instances ever materialised, and
	// the time span they cover (open reports an uncapped rule).
	instances []string
	spanStart time.Time
	spanEnd   time.Time
	open      bool

	// Effective state, recomputed by refresh.
	cancelled bool
	body      fields
	fp        string
	seq       uint64
	etag      int64
	updated   time.Time
	start     time.Time // instant of start, for ordering and time filters
	end       time.Time
}

func (r *row) exception() bool { return r.kind == kindInstance && r.own != nil }

// calendarState is one emulated calendar and its change log.
type calendarState struct {
	id          string
	tzName      string
	loc         *time.Location
	created     time.Time
	updated     time.Time
	seq         uint64 // last sequence number handed out
	epoch       uint32 // bumped by ExpireSyncTokens
	lastEtag    int64
	rows        map[string]*row
	ids         []string // sorted ids of rows, except those in added
	added       []string // ids added since ids was last sorted
	resourceID  string
	deleted     bool         // DeleteCalendar: unknown to every request
	denied      *apiError    // RevokeCalendarAccess: the answer to every request
	info        CalendarInfo // SetCalendarInfo: the calendar list entry
	infoVersion int          // bumped by SetCalendarInfo, for the etag
}

func newCalendar(id, tzName string, loc *time.Location, now time.Time) *calendarState {
	sum := sha1.Sum([]byte("calendar/v3/events:" + id))
	return &calendarState{
		id:         id,
		tzName:     tzName,
		loc:        loc,
		created:    now,
		updated:    now,
		rows:       map[string]*row{},
		resourceID: base64.RawURLEncoding.EncodeToString(sum[:]),
	}
}

func (c *calendarState) addRow(r *row) {
	c.rows[r.id] = r
	c.added = append(c.added, r.id)
}

// sortedIDs returns the ids of all rows in order. Ids added since the last
// call are merged in then, so bulk inserts stay cheap.
func (c *calendarState) sortedIDs() []string {
	if len(c.added) == 0 {
		return c.ids
	}
	slices.Sort(c.added)
	merged := make([]string, 0, len(c.ids)+len(c.added))
	i, j := 0, 0
	for i < len(c.ids) && j < len(c.added) {
		if c.ids[i] < c.added[j] {
			merged = append(merged, c.ids[i])
			i++
		} else {
			merged = append(merged, c.added[j])
			j++
		}
	}
	merged = append(merged, c.ids[i:]...)
	merged = append(merged, c.added[j:]...)
	c.ids, c.added = merged, nil
	return c.ids
}

// stamp records a change of r: next sequence number, new etag and updated.
func (c *calendarState) stamp(r *row, now time.Time) {
	c.seq++
	r.seq = c.seq
	r.updated = now.UTC().Truncate(time.Millisecond)
	// Etags in real responses are twice the updated time in microseconds;
	// keep them unique when the clock stands still.
	etag := r.updated.UnixMicro() * 2
	if etag <= c.lastEtag {
		etag = c.lastEtag + 2
	}
	c.lastEtag = etag
	r.etag = etag
	if r.updated.After(c.updated) {
		c.updated = r.updated
	}
}

// refresh recomputes the effective state of r and stamps it when that state
// changed (or force is set: the row was written directly).
func (c *calendarState) refresh(r *row, now time.Time, force bool) {
	switch r.kind {
	case kindSingle, kindSeries:
		r.body = r.own
		r.cancelled = r.own.str("status") == "cancelled"
	case kindInstance:
		series := c.rows[r.seriesID]
		if r.own != nil {
			r.body = r.own
		} else {
			r.body = r.derived
		}
		r.cancelled = series == nil || series.cancelled || !r.inSet || r.body.str("status") == "cancelled"
	}
	if info, err := checkEvent(r.body, r.kind == kindInstance); err == nil {
		r.start, r.end = info.start.instant(c.loc), info.end.instant(c.loc)
	}
	var fp string
	if r.cancelled {
		fp = "cancelled"
	} else {
		b, _ := json.Marshal(r.body)
		fp = string(b)
	}
	if force || fp != r.fp {
		r.fp = fp
		c.stamp(r, now)
	}
}

// expandSeries materialises the instances of series: new occurrences get
// rows, vanished ones are marked out of the set (their rows become
// cancelled tombstones), and every instance is refreshed.
func (c *calendarState) expandSeries(series *row, now time.Time) {
	current := map[string]occurrenceRow{}
	info, err := checkEvent(series.own, false)
	if series.kind == kindSeries && err == nil && info.rec != nil && !series.cancelled {
		horizonBase := info.start.t
		if now.After(horizonBase) {
			horizonBase = now
		}
		occs, bounded := info.rec.expand(info.start, horizonBase.Add(ExpansionHorizon))
		series.open = !bounded
		series.spanStart, series.spanEnd = time.Time{}, time.Time{}
		for _, o := range occs {
			or := c.occurrenceRow(series, info, o)
			current[or.id] = or
			if series.spanStart.IsZero() || or.startT.Before(series.spanStart) {
				series.spanStart = or.startT
			}
			if or.endT.After(series.spanEnd) {
				series.spanEnd = or.endT
			}
		}
	}
	if series.kind == kindSeries && series.cancelled {
		// Keep the instances' set membership; refresh cancels them.
		for _, id := range series.instances {
			c.refresh(c.rows[id], now, false)
		}
		return
	}
	for _, id := range series.instances {
		r := c.rows[id]
		if or, ok := current[id]; ok {
			r.inSet = true
			r.derived = or.body
			delete(current, id)
		} else {
			r.inSet = false
		}
	}
	newIDs := make([]string, 0, len(current))
	for id := range current {
		newIDs = append(newIDs, id)
	}
	sort.Strings(newIDs)
	for _, id := range newIDs {
		or := current[id]
		if _, taken := c.rows[id]; taken {
			// Unreachable in practice: instance ids contain '_', which
			// client-chosen ids cannot.
			continue
		}
		r := &row{
			id:       id,
			kind:     kindInstance,
			created:  series.created,
			iCalUID:  series.iCalUID,
			seriesID: series.id,
			orig:     or.orig,
			inSet:    true,
			derived:  or.body,
		}
		c.addRow(r)
		series.instances = append(series.instances, id)
	}
	sort.Strings(series.instances)
	for _, id := range series.instances {
		c.refresh(c.rows[id], now, false)
	}
}

type occurrenceRow struct {
	id           string
	orig         eventDateTime
	body         fields
	startT, endT time.Time
}

func (c *calendarState) occurrenceRow(series *row, info *eventInfo, o occurrence) occurrenceRow {
	var start, end eventDateTime
	var id string
	var startT, endT time.Time
	if info.start.allDay {
		days := int(info.end.t.Sub(info.start.t).Hours()/24 + 0.5)
		endDate := o.start.AddDate(0, 0, days)
		start = eventDateTime{Date: o.start.Format(dateLayout), TimeZone: info.startRaw.TimeZone}
		end = eventDateTime{Date: endDate.Format(dateLayout), TimeZone: info.endRaw.TimeZone}
		id = series.id + "_" + o.start.Format("20060102")
		startT = when{allDay: true, t: o.start}.instant(c.loc)
		endT = when{allDay: true, t: endDate}.instant(c.loc)
	} else {
		dur := info.end.t.Sub(info.start.t)
		endLoc := info.end.loc
		start = eventDateTime{DateTime: o.start.In(info.start.loc).Format(time.RFC3339), TimeZone: info.startRaw.TimeZone}
		end = eventDateTime{DateTime: o.start.Add(dur).In(endLoc).Format(time.RFC3339), TimeZone: info.endRaw.TimeZone}
		id = series.id + "_" + o.start.UTC().Format("20060102T150405Z")
		startT, endT = o.start, o.start.Add(dur)
	}
	body := series.own.clone()
	delete(body, "recurrence")
	sb, _ := json.Marshal(start)
	eb, _ := json.Marshal(end)
	body["start"], body["end"] = sb, eb
	return occurrenceRow{id: id, orig: start, body: body, startT: startT, endT: endT}
}

// write helpers ------------------------------------------------------------

// insertEvent creates a single or recurring event.
func (c *calendarState) insertEvent(id string, f fields, iCalUID string, now time.Time) (*row, *apiError) {
	if _, ok := f["status"]; !ok {
		f.setStr("status", "confirmed")
	}
	if _, ok := f["sequence"]; !ok {
		f["sequence"] = json.RawMessage("0")
	}
	if _, ok := f["reminders"]; !ok {
		f["reminders"] = json.RawMessage(`{"useDefault":true}`)
	}
	if _, ok := f["eventType"]; !ok {
		f.setStr("eventType", "default")
	}
	info, e := checkEvent(f, false)
	if e != nil {
		return nil, e
	}
	if info.status == "cancelled" {
		return nil, errInvalid("", "Invalid value for: status")
	}
	if iCalUID == "" {
		iCalUID = id + "@google.com"
	}
	r := &row{id: id, kind: kindSingle, created: now.UTC().Truncate(time.Second), iCalUID: iCalUID, own: f}
	if info.rec != nil {
		r.kind = kindSeries
	}
	c.addRow(r)
	c.refresh(r, now, true)
	if r.kind == kindSeries {
		c.expandSeries(r, now)
	}
	return r, nil
}

// writeEvent replaces the fields of r (patch or update already merged into
// f). An instance becomes an exception.
func (c *calendarState) writeEvent(r *row, f fields, now time.Time) *apiError {
	info, e := checkEvent(f, r.kind == kindInstance)
	if e != nil {
		return e
	}
	switch r.kind {
	case kindInstance:
		r.own = f
		c.refresh(r, now, true)
	default:
		wasSeries := r.kind == kindSeries
		r.own = f
		if info.rec != nil {
			r.kind = kindSeries
		} else {
			r.kind = kindSingle
		}
		c.refresh(r, now, true)
		if wasSeries || r.kind == kindSeries {
			c.expandSeries(r, now)
		}
	}
	return nil
}

// deleteEvent cancels r: a tombstone for singles and series (and all the
// series' instances), a cancelled exception for an instance.
func (c *calendarState) deleteEvent(r *row, now time.Time) *apiError {
	if r.cancelled {
		return newAPIError(http.StatusGone, "deleted", "")
	}
	switch r.kind {
	case kindInstance:
		if r.own == nil {
			r.own = r.derived.clone()
		} else {
			r.own = r.own.clone()
		}
		r.own.setStr("status", "cancelled")
		c.refresh(r, now, true)
	default:
		r.own = r.own.clone()
		r.own.setStr("status", "cancelled")
		c.refresh(r, now, true)
		if r.kind == kindSeries {
			c.expandSeries(r, now)
		}
	}
	return nil
}

// baseFields returns the fields a patch on r starts from.
func (r *row) baseFields() fields {
	if r.kind == kindInstance && r.own == nil {
		return r.derived.clone()
	}
	return r.own.clone()
}
