package google

import (
	"context"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
)

// calendarListPageSize is the largest page calendarList.list serves
// (its default is 100).
const calendarListPageSize = 250

var _ provider.CalendarLister = (*Provider)(nil)

// ListCalendars lists the account's calendar list (calendarList.list,
// every page): the primary calendar first, then the others in Google's
// order. Name is summaryOverride if the user set one, else summary; Color
// is backgroundColor. Hidden calendars are left out, as calendarList.list
// leaves them out by default. Errors are classified as for the other
// calls: a revoked or expired grant wraps provider.ErrReauthRequired.
func (p *Provider) ListCalendars(ctx context.Context, accountID string) ([]provider.CalendarInfo, error) {
	ctx = retry.WithAccount(ctx, accountID) // keys retry.LimitTransport's per-account limits
	svc, err := p.service(ctx, provider.Calendar{AccountID: accountID})
	if err != nil {
		return nil, err
	}
	var out []provider.CalendarInfo
	pageToken := ""
	for {
		call := svc.CalendarList.List().MaxResults(calendarListPageSize).Context(ctx)
		if pageToken != "" {
			call.PageToken(pageToken)
		}
		res, err := call.Do()
		if err != nil {
			return nil, apiError("calendarList.list", err, p.cfg.Now())
		}
		for _, e := range res.Items {
			if e == nil || e.Deleted {
				continue
			}
			name := e.SummaryOverride
			if name == "" {
				name = e.Summary
			}
			out = append(out, provider.CalendarInfo{
				ID:         e.Id,
				Name:       name,
				Primary:    e.Primary,
				AccessRole: e.AccessRole,
				Color:      e.BackgroundColor,
				TimeZone:   e.TimeZone,
			})
		}
		if pageToken = res.NextPageToken; pageToken == "" {
			break
		}
	}
	// Stable: the others keep Google's order.
	provider.SortPrimaryFirst(out)
	return out, nil
}
