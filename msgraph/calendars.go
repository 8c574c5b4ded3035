package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/calsync/calsync/provider"
)

var _ provider.CalendarLister = (*Provider)(nil)

// maxCalendarPages bounds how many @odata.nextLink pages ListCalendars
// follows, so that a service answering a link to itself cannot keep it
// busy forever.
const maxCalendarPages = 1000

// ListCalendars returns the calendars of the account's mailbox (GET
// /me/calendars, every @odata.nextLink page followed), the default
// calendar first, then in Graph's order; it implements
// provider.CalendarLister.
//
// Primary is isDefaultCalendar. AccessRole is "owner" for the default
// calendar and for calendars whose owner has the default calendar's owner
// address (the user's own), else "writer" if canEdit, else "reader".
// Color is hexColor ("" for the "auto" theme). TimeZone is the mailbox's
// time zone (GET /me/mailboxSettings, which needs MailboxSettings.Read):
// an IANA name as Graph gives it, or the IANA name of a Windows time zone
// name (Graph's default format) when the conversion is known, else "".
// A mailbox setting Graph refuses (403) or does not find (404) leaves it
// "".
//
// A 401 or a refused grant is an error wrapping provider.ErrReauthRequired.
// Requests count against Config.MailboxConcurrency of the account. It is
// safe for concurrent use.
func (p *Provider) ListCalendars(ctx context.Context, accountID string) ([]provider.CalendarInfo, error) {
	ctx = withAccount(ctx, accountID)
	const op = "calendars.list"
	var cals []models.Calendarable
	b := p.client.Me().Calendars()
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages == maxCalendarPages {
			return nil, fmt.Errorf("msgraph: %s: more than %d pages", op, maxCalendarPages)
		}
		rctx, rec := withResponse(ctx)
		page, err := b.Get(rctx, nil)
		if err != nil {
			return nil, apiError(op, err, rec, errorSentinels{}, p.cfg.Now())
		}
		if page == nil {
			break
		}
		cals = append(cals, page.GetValue()...)
		next := deref(page.GetOdataNextLink())
		if next == "" {
			break
		}
		if !p.sameOrigin(next) {
			return nil, fmt.Errorf("msgraph: %s: refusing an @odata.nextLink to %s", op, redactQuery(next))
		}
		if seen[next] {
			return nil, fmt.Errorf("msgraph: %s: @odata.nextLink repeats", op)
		}
		seen[next] = true
		b = b.WithUrl(next)
	}
	tz, err := p.mailboxTimeZone(ctx)
	if err != nil {
		return nil, err
	}

	own := ""
	for _, c := range cals {
		if deref(c.GetIsDefaultCalendar()) {
			own = ownerAddress(c)
		}
	}
	out := make([]provider.CalendarInfo, 0, len(cals))
	for _, c := range cals {
		info := provider.CalendarInfo{
			ID:       deref(c.GetId()),
			Name:     deref(c.GetName()),
			Primary:  deref(c.GetIsDefaultCalendar()),
			Color:    deref(c.GetHexColor()),
			TimeZone: tz,
		}
		switch addr := ownerAddress(c); {
		case info.Primary || (own != "" && strings.EqualFold(addr, own)):
			info.AccessRole = "owner"
		case deref(c.GetCanEdit()):
			info.AccessRole = "writer"
		default:
			info.AccessRole = "reader"
		}
		out = append(out, info)
	}
	// Graph lists the default calendar first; make sure of it.
	provider.SortPrimaryFirst(out)
	return out, nil
}

// mailboxTimeZone returns the mailbox's time zone as an IANA name, "" if
// unknown or refused.
func (p *Provider) mailboxTimeZone(ctx context.Context) (string, error) {
	const op = "mailboxSettings.get"
	rctx, rec := withResponse(ctx)
	ms, err := p.client.Me().MailboxSettings().Get(rctx, nil)
	if err != nil {
		err = apiError(op, err, rec, errorSentinels{}, p.cfg.Now())
		if pe, ok := errors.AsType[*provider.Error](err); ok && !errors.Is(err, provider.ErrReauthRequired) &&
			(pe.StatusCode == http.StatusForbidden || pe.StatusCode == http.StatusNotFound) {
			return "", nil
		}
		return "", err
	}
	if ms == nil {
		return "", nil
	}
	return ianaTimeZone(deref(ms.GetTimeZone())), nil
}

func ownerAddress(c models.Calendarable) string {
	if o := c.GetOwner(); o != nil {
		return deref(o.GetAddress())
	}
	return ""
}

// deref returns *v, or the zero value for nil.
func deref[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}
