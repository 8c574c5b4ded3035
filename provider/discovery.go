package provider

import (
	"context"
	"slices"
)

// CalendarInfo describes one calendar of an account, as the provider lists
// it: what a host shows in a calendar picker, and what the Engine compares
// to notice calendars added to or removed from an account.
type CalendarInfo struct {
	// ID is the provider's calendar id: the Calendar.RemoteID to connect
	// it with.
	ID string
	// Name is the calendar's display name (Google: summaryOverride, else
	// summary; Graph: name).
	Name string
	// Primary is true for the account's main calendar (Google: primary;
	// Graph: isDefaultCalendar).
	Primary bool
	// AccessRole is what the account may do with the calendar, spelled as
	// Google spells it: "owner", "writer", "reader" or "freeBusyReader"
	// (Graph: "owner" for the user's own calendars, else "writer" if
	// canEdit, else "reader").
	AccessRole string
	// Color is the calendar's colour as "#rrggbb", or "" if the provider
	// gives none (Google: backgroundColor; Graph: hexColor).
	Color string
	// TimeZone is the calendar's IANA time zone, or "" if unknown (Google:
	// timeZone; Graph: the mailbox's time zone, mailboxSettings.timeZone,
	// as Graph calendars have none of their own).
	TimeZone string
}

// CalendarLister is implemented by providers that can list an account's
// calendars (Google: calendarList.list; Graph: GET /me/calendars).
//
// ListCalendars returns every calendar the account can see, the primary
// one first, then in the provider's order. A refused grant is an error
// wrapping [ErrReauthRequired]. Implementations must be safe for
// concurrent use.
type CalendarLister interface {
	ListCalendars(ctx context.Context, accountID string) ([]CalendarInfo, error)
}

// SortPrimaryFirst moves the primary calendar to the front of cals,
// keeping the others in their order, as CalendarLister promises.
func SortPrimaryFirst(cals []CalendarInfo) {
	slices.SortStableFunc(cals, func(a, b CalendarInfo) int {
		switch {
		case a.Primary == b.Primary:
			return 0
		case a.Primary:
			return -1
		}
		return 1
	})
}
