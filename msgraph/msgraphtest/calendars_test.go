package msgraphtest_test

import (
	"net/http"
	"testing"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

type calendarPage struct {
	Value []struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		Color             string `json:"color"`
		HexColor          string `json:"hexColor"`
		IsDefaultCalendar bool   `json:"isDefaultCalendar"`
		ChangeKey         string `json:"changeKey"`
		CanEdit           bool   `json:"canEdit"`
		CanShare          bool   `json:"canShare"`
		IsRemovable       bool   `json:"isRemovable"`
		Owner             struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"owner"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

func TestListCalendars(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	srv.AddCalendar("alice", "work")
	srv.AddCalendar("alice", "shared")
	cals, err := srv.Calendars("alice")
	if err != nil {
		t.Fatal(err)
	}
	shared := cals[2]
	shared.Name, shared.Color, shared.HexColor, shared.CanEdit = "Team", "lightBlue", "#a6d1f5", false
	shared.Owner = msgraphtest.EmailAddress{Name: "Carol", Address: "carol@contoso.onmicrosoft.com"}
	if err := srv.SetCalendar("alice", shared); err != nil {
		t.Fatal(err)
	}

	// Pages of one, linked by @odata.nextLink.
	var got calendarPage
	for link := "/me/calendars?$top=1"; link != ""; {
		resp, body := api(t, srv, http.MethodGet, link, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", link, resp.StatusCode, body)
		}
		var page calendarPage
		decode(t, body, &page)
		if len(page.Value) != 1 {
			t.Fatalf("page of %d calendars, want 1 ($top=1)", len(page.Value))
		}
		got.Value = append(got.Value, page.Value...)
		link = page.NextLink
	}
	if len(got.Value) != 3 {
		t.Fatalf("%d calendars, want 3", len(got.Value))
	}
	p, w, s := got.Value[0], got.Value[1], got.Value[2]
	if !p.IsDefaultCalendar || p.ID != srv.PrimaryCalendar("alice") || p.Name != "Calendar" || p.IsRemovable ||
		p.Owner.Address != "alice@contoso.onmicrosoft.com" || p.ChangeKey == "" || p.Color != "auto" {
		t.Errorf("primary calendar %+v", p)
	}
	if w.IsDefaultCalendar || w.ID != "work" || !w.CanEdit || !w.IsRemovable {
		t.Errorf("work calendar %+v", w)
	}
	if s.Name != "Team" || s.HexColor != "#a6d1f5" || s.Color != "lightBlue" || s.CanEdit || s.Owner.Address != "carol@contoso.onmicrosoft.com" {
		t.Errorf("shared calendar %+v", s)
	}

	// A deleted calendar is no longer listed.
	if err := srv.DeleteCalendar("alice", "work"); err != nil {
		t.Fatal(err)
	}
	resp, body := api(t, srv, http.MethodGet, "/users/alice/calendars", nil, nil)
	var all calendarPage
	decode(t, body, &all)
	if resp.StatusCode != http.StatusOK || len(all.Value) != 2 || all.NextLink != "" {
		t.Fatalf("after delete: %d %s", resp.StatusCode, body)
	}
	resp, body = api(t, srv, http.MethodGet, "/users/nobody/calendars", nil, nil)
	expectError(t, resp, body, http.StatusNotFound, "ErrorInvalidUser")
}

func TestMailboxSettingsTimeZone(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	var ms struct {
		TimeZone string `json:"timeZone"`
	}
	_, body := api(t, srv, http.MethodGet, "/me/mailboxSettings", nil, nil)
	decode(t, body, &ms)
	if ms.TimeZone != msgraphtest.DefaultTimeZone {
		t.Errorf("timeZone = %q, want %q", ms.TimeZone, msgraphtest.DefaultTimeZone)
	}
	if err := srv.SetTimeZone("alice", "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	_, body = api(t, srv, http.MethodGet, "/users/alice/mailboxSettings", nil, nil)
	decode(t, body, &ms)
	if ms.TimeZone != "Europe/Berlin" {
		t.Errorf("timeZone = %q after SetTimeZone", ms.TimeZone)
	}
}
