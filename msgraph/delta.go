package msgraph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/calsync/calsync/provider"
)

// Cursors and page tokens are the nextLink and deltaLink URLs Graph
// returns, replayed as they are (they are opaque and encode the query and
// window), behind a prefix naming the mode they were made with. A token made
// in the other mode, by another provider, or pointing at another host
// starts a full sync. In calendarView mode the prefix also carries when
// the round's window was set (Unix seconds), so that the window can be
// moved forward (Window.Slide): "mg2v:<unix>:<link>". Tokens of the first
// format, "mg1v:<link>", are still read (their window is not moved).
const (
	prefixCalendarView   = "mg1v:"
	prefixCalendarViewV2 = "mg2v:"
	prefixEvents         = "mg1e:"
)

// prefix is what precedes the link in the tokens of a round whose window
// was set at windowSet (zero outside calendarView mode, or unknown).
func (p *Provider) prefix(windowSet time.Time) string {
	switch {
	case p.cfg.UseEventsDelta:
		return prefixEvents
	case windowSet.IsZero():
		return prefixCalendarView
	}
	return prefixCalendarViewV2 + strconv.FormatInt(windowSet.Unix(), 10) + ":"
}

// decodeLink returns the URL inside a cursor or page token, and when the
// round's window was set (zero if the token does not say).
func (p *Provider) decodeLink(what, s string) (string, time.Time, error) {
	var (
		link      string
		windowSet time.Time
		ok        bool
	)
	if rest, v2 := strings.CutPrefix(s, prefixCalendarViewV2); v2 && !p.cfg.UseEventsDelta {
		var unix string
		if unix, link, ok = strings.Cut(rest, ":"); ok {
			n, err := strconv.ParseInt(unix, 10, 64)
			ok = err == nil
			windowSet = time.Unix(n, 0)
		}
	} else {
		link, ok = strings.CutPrefix(s, p.prefix(time.Time{}))
	}
	if !ok || link == "" {
		return "", time.Time{}, fmt.Errorf("msgraph: %s was made with other settings (UseEventsDelta changed?) or by another provider: %w", what, provider.ErrFullSyncRequired)
	}
	if !p.sameOrigin(link) {
		return "", time.Time{}, fmt.Errorf("msgraph: %s is not a link of %s: %w", what, p.base.Host, provider.ErrFullSyncRequired)
	}
	return link, windowSet, nil
}

// Fetch returns one page of the calendar's delta.
//
// Without a cursor it starts a full sync: GET
// me/calendarView/delta?startDateTime&endDateTime (me/calendars/{id}/... for
// a RemoteID; the window is Config.Window around Now) or, with
// UseEventsDelta, me/events/delta. pos.PageToken (an @odata.nextLink)
// continues a round; the round's last page carries an @odata.deltaLink,
// which becomes the cursor; a non-empty pos.Cursor replays it. Every
// request carries Prefer: odata.maxpagesize and outlook.timezone="UTC".
//
// v1.0 documents calendarView delta of the primary calendar only
// (https://learn.microsoft.com/graph/api/event-delta?view=graph-rest-1.0);
// beta documents me/calendars/{id}/calendarView/delta
// (https://learn.microsoft.com/graph/api/event-delta?view=graph-rest-beta).
// When v1.0 refuses it for a calendar (see refusedDeltaPath), Fetch starts
// the round on beta (BaseURL with /v1.0 replaced by /beta) and remembers
// that calendar, so its later full syncs go there at once; the links of a
// beta round are beta URLs, replayed as they are, so incremental syncs stay
// there too.
//
// The window of a calendarView round is set when its first page is asked
// for, and Graph keeps it for the round's delta links. Once a cursor's
// window is Config.Window.Slide old, Fetch answers
// provider.ErrFullSyncRequired instead of replaying it: the Engine then
// runs a full sync over a new window (its generation sweep removes what
// fell out of the window; events that did not change are not reported),
// so that a calendar connected today still sees next year's events.
//
// Items with @removed, and cancelled events, are deletions; everything else
// an upsert. A 410, or an error code syncStateNotFound / resyncRequired (in
// any case), maps to provider.ErrFullSyncRequired. A calendar Graph no
// longer finds (404) or lets the account read (403 other than a limit) is
// an error wrapping provider.ErrCalendarUnavailable.
func (p *Provider) Fetch(ctx context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	link := ""
	var (
		windowSet time.Time
		err       error
	)
	switch {
	case pos.PageToken != "":
		link, windowSet, err = p.decodeLink("page token", pos.PageToken)
	case pos.Cursor != "":
		link, windowSet, err = p.decodeLink("cursor", pos.Cursor)
	}
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	if pos.PageToken == "" && pos.Cursor != "" && !windowSet.IsZero() && now.Sub(windowSet) >= p.cfg.Window.Slide {
		return nil, fmt.Errorf("msgraph: calendarView window set %s is %s old: moving it: %w",
			windowSet.UTC().Format(time.RFC3339), p.cfg.Window.Slide, provider.ErrFullSyncRequired)
	}
	if link == "" && !p.cfg.UseEventsDelta {
		windowSet = now.Truncate(time.Second)
	}
	ctx = withAccount(ctx, cal.AccountID)
	beta := link == "" && p.onBeta(cal)
	body, err := p.sendDelta(ctx, cal, link, beta, now)
	if err != nil && link == "" && !beta && p.canUseBeta(cal) && refusedDeltaPath(err) {
		if body, err = p.sendDelta(ctx, cal, "", true, now); err == nil {
			p.betaCalendars.Store(betaKey(cal), true)
		}
	}
	if err != nil {
		return nil, err
	}
	page, err := p.parsePage(cal.ID, body, p.prefix(windowSet))
	if err != nil {
		return nil, err
	}
	if link != "" && page.NextPageToken == p.prefix(windowSet)+link {
		// Graph has been seen answering a nextLink with itself
		// (https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/3070);
		// following it would never end.
		return nil, errors.New("msgraph: delta returned its own request as the nextLink")
	}
	return page, nil
}

// sendDelta sends one delta request and returns the response body.
func (p *Provider) sendDelta(ctx context.Context, cal provider.Calendar, link string, beta bool, now time.Time) ([]byte, error) {
	ctx, rec := withResponse(ctx)
	ri, err := p.deltaRequest(ctx, cal, link, beta, now)
	if err != nil {
		return nil, fmt.Errorf("msgraph: delta request: %w", err)
	}
	res, err := p.adapter.SendPrimitive(ctx, ri, "[]byte", nil)
	if err != nil {
		return nil, apiError("delta", err, rec, errorSentinels{fullSync: true, calendar: true}, now)
	}
	body, _ := res.([]byte)
	return body, nil
}

// betaKey names a calendar in Provider.betaCalendars.
func betaKey(cal provider.Calendar) string { return cal.AccountID + "\x00" + cal.RemoteID }

// canUseBeta reports whether cal's calendarView delta can move to beta: a
// secondary calendar, calendarView mode, and a BaseURL ending in /v1.0.
func (p *Provider) canUseBeta(cal provider.Calendar) bool {
	return cal.RemoteID != "" && !p.cfg.UseEventsDelta && p.betaBase != ""
}

// onBeta reports whether cal's full syncs start on beta.
func (p *Provider) onBeta(cal provider.Calendar) bool {
	if !p.canUseBeta(cal) {
		return false
	}
	_, ok := p.betaCalendars.Load(betaKey(cal))
	return ok
}

// refusedDeltaPath reports whether a first delta request on v1.0 was
// refused for its path rather than for the calendar. Graph answers delta
// where it does not track changes with 400 BadRequest "Unsupported request:
// Change tracking is not supported against 'microsoft.graph.event'."
// (microsoftgraph/msgraph-metadata#608), and a path a
// version does not serve with 400 "Resource not found for the segment
// '...'."; a 400 "Bad Request" is "malformed or incorrect" and a 404 "the
// requested resource doesn't exist"
// (https://learn.microsoft.com/graph/errors). Since the v1.0 answer for
// me/calendars/{id}/calendarView/delta is undocumented, a 404 is tried on
// beta too before it counts as the calendar being gone: beta answers 404
// only if it is.
func refusedDeltaPath(err error) bool {
	pe, ok := errors.AsType[*provider.Error](err)
	if !ok {
		return false
	}
	switch pe.StatusCode {
	case http.StatusNotFound:
		return true
	case http.StatusBadRequest:
		m := strings.ToLower(pe.Message)
		return strings.Contains(m, "unsupported request") || strings.Contains(m, "change tracking is not supported") ||
			strings.Contains(m, "resource not found for the segment")
	}
	return false
}

// deltaRequest builds the request of the first page of a round with the
// SDK's typed builders (on beta if beta is set: a secondary calendar's
// calendarView delta), or the request of a nextLink or deltaLink with the
// same builders' WithUrl (the link is used verbatim).
func (p *Provider) deltaRequest(ctx context.Context, cal provider.Calendar, link string, beta bool, now time.Time) (*abs.RequestInformation, error) {
	h := abs.NewRequestHeaders()
	h.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(p.cfg.MaxPageSize))
	h.Add("Prefer", `outlook.timezone="UTC"`)
	me := p.client.Me()
	if p.cfg.UseEventsDelta {
		if cal.RemoteID == "" {
			b := me.Events().Delta()
			if link != "" {
				b = b.WithUrl(link)
			}
			return b.ToGetRequestInformation(ctx, nil)
		}
		b := me.Calendars().ByCalendarId(cal.RemoteID).Events().Delta()
		if link != "" {
			b = b.WithUrl(link)
		}
		return b.ToGetRequestInformation(ctx, nil)
	}
	start := now.Add(-p.cfg.Window.Before).UTC().Format(time.RFC3339)
	end := now.Add(p.cfg.Window.After).UTC().Format(time.RFC3339)
	var ri *abs.RequestInformation
	var err error
	if cal.RemoteID == "" {
		b := me.CalendarView().Delta()
		if link != "" {
			ri, err = b.WithUrl(link).ToGetRequestInformation(ctx, nil)
		} else {
			ri, err = b.ToGetRequestInformation(ctx, nil)
			if err == nil {
				ri.QueryParameters["startDateTime"] = start
				ri.QueryParameters["endDateTime"] = end
			}
		}
	} else {
		b := me.Calendars().ByCalendarId(cal.RemoteID).CalendarView().Delta()
		switch {
		case link != "":
			ri, err = b.WithUrl(link).ToGetRequestInformation(ctx, nil)
		case beta:
			u := p.betaBase + "/me/calendars/" + url.PathEscape(cal.RemoteID) + "/calendarView/delta?startDateTime=" +
				url.QueryEscape(start) + "&endDateTime=" + url.QueryEscape(end)
			ri, err = b.WithUrl(u).ToGetRequestInformation(ctx, nil)
		default:
			ri, err = b.ToGetRequestInformation(ctx, nil)
			if err == nil {
				ri.QueryParameters["startDateTime"] = start
				ri.QueryParameters["endDateTime"] = end
			}
		}
	}
	if err != nil {
		return nil, err
	}
	ri.Headers.AddAll(h)
	return ri, nil
}

// deltaPage is one page of a delta round. Items stay raw until converted,
// so each event keeps the exact JSON Graph sent.
type deltaPage struct {
	NextLink  string            `json:"@odata.nextLink"`
	DeltaLink string            `json:"@odata.deltaLink"`
	Value     []json.RawMessage `json:"value"`
}

// parsePage converts one delta response body.
func (p *Provider) parsePage(calendarID string, body []byte, prefix string) (*provider.Page, error) {
	if len(body) == 0 {
		return nil, errors.New("msgraph: delta returned an empty body")
	}
	var dp deltaPage
	if err := json.Unmarshal(body, &dp); err != nil {
		return nil, fmt.Errorf("msgraph: delta: malformed response: %w", err)
	}
	page := &provider.Page{Changes: make([]provider.Change, 0, len(dp.Value))}
	for i, raw := range dp.Value {
		ch, err := change(calendarID, raw)
		if err != nil {
			return nil, fmt.Errorf("msgraph: delta item %d: %w", i, err)
		}
		page.Changes = append(page.Changes, ch)
	}
	switch {
	case dp.NextLink != "":
		if !p.sameOrigin(dp.NextLink) {
			return nil, fmt.Errorf("msgraph: delta returned a nextLink outside %s", p.base.Host)
		}
		page.NextPageToken = prefix + dp.NextLink
	case dp.DeltaLink != "":
		if !p.sameOrigin(dp.DeltaLink) {
			return nil, fmt.Errorf("msgraph: delta returned a deltaLink outside %s", p.base.Host)
		}
		page.NextCursor = prefix + dp.DeltaLink
	default:
		return nil, errors.New("msgraph: delta returned neither @odata.nextLink nor @odata.deltaLink")
	}
	return page, nil
}
