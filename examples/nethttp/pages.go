package main

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/provider"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006, 15:04:05 UTC")
	},
}).ParseFS(templateFS, "templates/*.html"))

// The fake sign-in. A real app takes the user from its own session
// (signed cookie, server-side session, SSO); this demo trusts a cookie
// holding the user's name, which anyone can set: do not deploy it.
const userCookie = "calsync_demo_user"

var validUser = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// user is connect.Config.User: the signed-in user's id.
func (a *app) user(r *http.Request) (string, error) {
	c, err := r.Cookie(userCookie)
	if err != nil {
		return "", errors.New("not signed in")
	}
	if !validUser.MatchString(c.Value) {
		return "", errors.New("malformed user cookie")
	}
	return c.Value, nil
}

// render writes a page with the security headers every page gets.
func render(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, name, data)
}

// message is the data of message.html: a short page that says what
// happened and links back.
type message struct {
	Title, Text string
}

func (a *app) fail(w http.ResponseWriter, status int, title, text string) {
	render(w, status, "message.html", message{Title: title, Text: text})
}

// statusPage is the data of status.html.
type statusPage struct {
	User  string
	Flash string // a notice at the top
	// FlashProvider is the provider the notice is about.
	FlashProvider string
	Providers     []providerInfo
	Accounts      []accountView
}

type accountView struct {
	ID, Provider, Label string
	Status, Reason      string
	Changed             time.Time
	Calendars           []calendarView
}

func (v accountView) NeedsReauth() bool  { return v.Status == string(calsync.AccountNeedsReauth) }
func (v accountView) Disconnected() bool { return v.Status == string(calsync.AccountDisconnected) }

// StatusLabel is the status for people.
func (v accountView) StatusLabel() string {
	switch calsync.AccountStatus(v.Status) {
	case calsync.AccountActive:
		return "active"
	case calsync.AccountNeedsReauth:
		return "needs reconnection"
	case calsync.AccountDisconnected:
		return "disconnected"
	}
	return v.Status
}

type calendarView struct {
	ID, Name, Color, TimeZone string
	LastSync, Expiry          time.Time
	LastError, Unavailable    string
	Events                    []eventView
	MoreEvents                int
}

type eventView struct {
	Summary, When string
}

// maxEventsShown bounds the events listed per calendar.
const maxEventsShown = 8

// status serves GET /: the sign-in form, or the user's accounts.
func (a *app) status(w http.ResponseWriter, r *http.Request) {
	user, err := a.user(r)
	if err != nil {
		render(w, http.StatusOK, "signin.html", nil)
		return
	}
	p := statusPage{User: user, Providers: a.providers}
	if name := r.URL.Query().Get("reconnected"); name != "" {
		if pi, ok := a.provider(name); ok {
			p.Flash, p.FlashProvider = pi.Label+" account reconnected: its calendars sync again.", pi.Name
		}
	}
	if p.Accounts, err = a.accountViews(r.Context(), user); err != nil {
		a.log.ErrorContext(r.Context(), "status page", "err", err)
		a.fail(w, http.StatusInternalServerError, "Something went wrong", "The calendar status could not be read. Please try again.")
		return
	}
	render(w, http.StatusOK, "status.html", p)
}

// accountViews returns the user's accounts with their calendars.
func (a *app) accountViews(ctx context.Context, user string) ([]accountView, error) {
	accts, err := a.engine.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	cals, err := a.store.ListCalendars(ctx)
	if err != nil {
		return nil, err
	}
	var out []accountView
	for _, acc := range accts {
		pi, ok := a.provider(acc.Provider)
		if !ok || acc.ID != connect.DefaultAccountID(user, acc.Provider) {
			continue
		}
		v := accountView{ID: acc.ID, Provider: acc.Provider, Label: pi.Label, Status: string(acc.Status), Reason: acc.Reason, Changed: acc.Changed}
		for _, cal := range cals {
			if cal.AccountID != acc.ID {
				continue
			}
			cv, err := a.calendarView(ctx, cal, acc.Calendars)
			if err != nil {
				return nil, err
			}
			v.Calendars = append(v.Calendars, cv)
		}
		out = append(out, v)
	}
	return out, nil
}

func (a *app) calendarView(ctx context.Context, cal calsync.Calendar, infos []calsync.CalendarInfo) (calendarView, error) {
	cv := calendarView{ID: cal.ID, Name: cal.RemoteID}
	if i := slices.IndexFunc(infos, func(c calsync.CalendarInfo) bool { return c.ID == cal.RemoteID }); i >= 0 {
		cv.Name, cv.Color, cv.TimeZone = infos[i].Name, infos[i].Color, infos[i].TimeZone
	}
	h, err := a.engine.CalendarHealth(ctx, cal.ID)
	if err != nil {
		return cv, err
	}
	cv.LastSync, cv.Expiry, cv.Unavailable = h.LastSync, h.SubscriptionExpiry, h.Unavailable
	if h.Local.LastError != nil {
		cv.LastError = h.Local.LastError.Error()
	}
	evs, err := a.store.ListEvents(ctx, cal.ID, "", 200)
	if err != nil {
		return cv, err
	}
	evs = slices.DeleteFunc(evs, func(e calsync.Event) bool { return e.Status == provider.StatusCancelled })
	slices.SortFunc(evs, func(x, y calsync.Event) int { return cmp.Compare(startKey(x.Start), startKey(y.Start)) })
	for i, e := range evs {
		if i == maxEventsShown {
			cv.MoreEvents = len(evs) - i
			break
		}
		cv.Events = append(cv.Events, eventView{Summary: cmp.Or(e.Summary, "(no title)"), When: startKey(e.Start)})
	}
	return cv, nil
}

// startKey renders an event's start so that it sorts.
func startKey(t calsync.EventTime) string {
	if t.AllDay() {
		return t.Date
	}
	return t.DateTime.UTC().Format("2006-01-02 15:04 UTC")
}

// signIn serves POST /signin: the demo's fake sign-in.
func (a *app) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	name := r.PostFormValue("name")
	if !validUser.MatchString(name) {
		a.fail(w, http.StatusBadRequest, "Pick another name", "A name is 1 to 64 letters, digits or . _ @ -.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: name, Path: "/", HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signOut serves POST /signout.
func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: userCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// pickerPage is the data of picker.html.
type pickerPage struct {
	User, Provider, Label, AccountID string
	Calendars                        []pickerCalendar
}

type pickerCalendar struct {
	calsync.CalendarInfo
	Connected bool // already syncing
}

// connected is connect.Config.Done: the calendar picker, or, after a
// reconnect (the calendars resumed themselves), the status page.
func (a *app) connected(w http.ResponseWriter, r *http.Request, res connect.Result) {
	if res.Reconnected {
		http.Redirect(w, r, "/?reconnected="+res.Provider, http.StatusSeeOther)
		return
	}
	pi, _ := a.provider(res.Provider)
	p := pickerPage{User: res.User, Provider: res.Provider, Label: pi.Label, AccountID: res.AccountID}
	for _, c := range res.Calendars {
		_, err := a.store.Calendar(r.Context(), connect.CalendarID(res.AccountID, c.ID))
		p.Calendars = append(p.Calendars, pickerCalendar{CalendarInfo: c, Connected: err == nil})
	}
	render(w, http.StatusOK, "picker.html", p)
}

// connectFailed is connect.Config.Failed.
func (a *app) connectFailed(w http.ResponseWriter, _ *http.Request, err error) {
	status, title, text := connect.UserMessage(err)
	a.fail(w, status, title, text)
}

// choose serves POST /connect/choose: connect the calendars the user
// picked. The account must be the signed-in user's, active, and each
// calendar one of those the connect flow listed in it.
func (a *app) choose(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	user, err := a.user(r)
	if err != nil {
		a.fail(w, http.StatusUnauthorized, "Please sign in", "Sign in first, then connect your calendar.")
		return
	}
	if err := r.ParseForm(); err != nil {
		a.fail(w, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	accountID, picked := r.PostForm.Get("account"), r.PostForm["calendar"]
	if accountID == "" || len(picked) == 0 {
		a.fail(w, http.StatusBadRequest, "Nothing chosen", "Pick at least one calendar to sync.")
		return
	}
	acc, err := a.engine.Account(r.Context(), accountID)
	pi, known := a.provider(acc.Provider)
	if err != nil || !known || acc.ID != connect.DefaultAccountID(user, acc.Provider) || acc.Status != calsync.AccountActive {
		a.fail(w, http.StatusBadRequest, "Unknown account", "This account is not connected. Connect it again from the start page.")
		return
	}
	for _, remote := range picked {
		if !slices.ContainsFunc(acc.Calendars, func(c calsync.CalendarInfo) bool { return c.ID == remote }) {
			a.fail(w, http.StatusBadRequest, "Unknown calendar", "A chosen calendar is not in this account. Connect it again from the start page.")
			return
		}
	}
	hook := a.hookBase + pi.Hook
	for _, remote := range picked {
		cal := calsync.Calendar{ID: connect.CalendarID(acc.ID, remote), Provider: acc.Provider, AccountID: acc.ID, RemoteID: remote}
		if _, err := a.store.Calendar(r.Context(), cal.ID); err == nil {
			continue // already syncing
		}
		if _, err := a.engine.Connect(r.Context(), cal, calsync.ConnectRequest{Address: hook, LifecycleAddress: hook}); err != nil {
			a.log.WarnContext(r.Context(), "connect calendar", "calendar", cal.ID, "err", err)
			a.fail(w, http.StatusBadGateway, "Could not connect the calendar",
				"The calendar provider did not accept the subscription. Please try again in a moment.")
			return
		}
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// disconnect serves POST /accounts/disconnect: stop syncing every
// calendar of one of the user's accounts and forget its token.
func (a *app) disconnect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	user, err := a.user(r)
	if err != nil {
		a.fail(w, http.StatusUnauthorized, "Please sign in", "Sign in first.")
		return
	}
	acc, err := a.engine.Account(r.Context(), r.PostFormValue("account"))
	if err != nil || acc.ID != connect.DefaultAccountID(user, acc.Provider) {
		a.fail(w, http.StatusBadRequest, "Unknown account", "This account is not yours or no longer exists.")
		return
	}
	if err := a.engine.DisconnectAccount(r.Context(), acc.ID); err != nil {
		a.log.WarnContext(r.Context(), "disconnect account", "account", acc.ID, "err", err)
		a.fail(w, http.StatusInternalServerError, "Could not disconnect", "Please try again.")
		return
	}
	if s := a.sources[acc.Provider]; s != nil {
		s.Forget(acc.ID)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
