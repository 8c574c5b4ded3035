package msgraphtest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// staticToken is a kiota AccessTokenProvider with a fixed token.
type staticToken string

func (s staticToken) GetAuthorizationToken(context.Context, *url.URL, map[string]any) (string, error) {
	return string(s), nil
}

func (s staticToken) GetAllowedHostsValidator() *authentication.AllowedHostsValidator {
	v := authentication.NewAllowedHostsValidator(nil)
	return &v
}

// newSDKClient builds the SDK the way a host app would, with Graph's
// default middleware (which, among other things, rewrites the SDK's
// "/users/me-token-to-replace" to "/me"), over a transport that trusts the
// emulator's certificate. Passing srv.Client() bare would skip that
// middleware.
func newSDKClient(t *testing.T, srv *msgraphtest.Server) *msgraphsdk.GraphServiceClient {
	t.Helper()
	opts := msgraphsdk.GetDefaultClientOptions()
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(
		srv.Client().Transport, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		authentication.NewBaseBearerTokenAuthenticationProvider(staticToken("sdk-token")), nil, nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(srv.URL() + "/v1.0")
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// TestSDKClient drives the emulator with the unmodified msgraph-sdk-go:
// create a subscription, list delta pages, renew, reauthorize, delete.
func TestSDKClient(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	client := newSDKClient(t, srv)
	ctx := context.Background()

	sub := models.NewSubscription()
	sub.SetChangeType(ptr("created,updated,deleted"))
	sub.SetNotificationUrl(ptr(rc.ts.URL + "/notify"))
	sub.SetLifecycleNotificationUrl(ptr(rc.ts.URL + "/lifecycle"))
	sub.SetResource(ptr("/me/events"))
	sub.SetExpirationDateTime(ptr(t0.Add(3 * 24 * time.Hour)))
	sub.SetClientState(ptr("sdk-state"))
	created, err := client.Subscriptions().Post(ctx, sub, nil)
	if err != nil {
		t.Fatalf("create subscription: %v", describe(err))
	}
	id := deref(created.GetId())
	if id == "" || deref(created.GetApplicationId()) == "" || deref(created.GetCreatorId()) != "alice" {
		t.Fatalf("created subscription: id %q app %q creator %q", id, deref(created.GetApplicationId()), deref(created.GetCreatorId()))
	}
	if exp := created.GetExpirationDateTime(); exp == nil || !exp.Equal(t0.Add(3*24*time.Hour)) {
		t.Fatalf("expirationDateTime = %v", exp)
	}

	// Events: 3 singles and a daily series of 4 in the window.
	for i := range 3 {
		mustCreate(t, srv, msgraphtest.Event{Subject: "single", Start: t0.Add(time.Duration(i+1) * time.Hour), End: t0.Add(time.Duration(i+2) * time.Hour)})
	}
	series := mustCreate(t, srv, msgraphtest.Event{Subject: "series", Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "daily", Interval: 1},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 4},
		}})

	start, end := t0.Format(time.RFC3339), t0.Add(7*24*time.Hour).Format(time.RFC3339)
	headers := abstractions.NewRequestHeaders()
	headers.Add("Prefer", "odata.maxpagesize=3")
	cfg := &users.ItemCalendarViewDeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemCalendarViewDeltaRequestBuilderGetQueryParameters{StartDateTime: &start, EndDateTime: &end},
		Headers:         headers,
	}
	builder := client.Me().CalendarView().Delta()
	var got []models.Eventable
	pages := 0
	var deltaLink string
	resp, err := builder.GetAsDeltaGetResponse(ctx, cfg)
	for {
		if err != nil {
			t.Fatalf("delta page %d: %v", pages, describe(err))
		}
		pages++
		got = append(got, resp.GetValue()...)
		if next := resp.GetOdataNextLink(); next != nil {
			resp, err = builder.WithUrl(*next).GetAsDeltaGetResponse(ctx, &users.ItemCalendarViewDeltaRequestBuilderGetRequestConfiguration{Headers: headers})
			continue
		}
		deltaLink = deref(resp.GetOdataDeltaLink())
		break
	}
	if pages != 3 || len(got) != 7 || deltaLink == "" {
		t.Fatalf("initial round: %d pages, %d events, deltaLink %q; want 3, 7, non-empty", pages, len(got), deltaLink)
	}
	occ := 0
	for _, ev := range got {
		if ev.GetStart() == nil || deref(ev.GetStart().GetTimeZone()) != "UTC" || ev.GetSubject() == nil {
			t.Fatalf("event lacks start/subject: %v", deref(ev.GetId()))
		}
		if ev.GetTypeEscaped() != nil && *ev.GetTypeEscaped() == models.OCCURRENCE_EVENTTYPE {
			occ++
			if deref(ev.GetSeriesMasterId()) != series.ID {
				t.Fatalf("occurrence seriesMasterId = %q", deref(ev.GetSeriesMasterId()))
			}
		}
	}
	if occ != 4 {
		t.Fatalf("%d occurrences, want 4", occ)
	}

	// Delete one single; the next round carries it as @removed.
	if err := srv.DeleteEvent("alice", "", deref(got[0].GetId())); err != nil && !errors.Is(err, msgraphtest.ErrNotFound) {
		t.Fatal(err)
	}
	evs, _ := srv.Events("alice", "", t0, t0.Add(7*24*time.Hour))
	if len(evs) != 6 {
		// got[0] may have been an occurrence; either way one instance is gone.
		t.Fatalf("Events after delete = %d", len(evs))
	}
	resp, err = builder.WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatalf("second round: %v", describe(err))
	}
	if v := resp.GetValue(); len(v) != 1 || v[0].GetAdditionalData()["@removed"] == nil || deref(v[0].GetId()) != deref(got[0].GetId()) {
		t.Fatalf("second round = %d items", len(v))
	}

	// The SDK's retry middleware honours the (fractional) Retry-After of a
	// 429 and retries; a persistent 429 surfaces as an ODataError.
	srv.FailNext(1, 429, "", msgraphtest.OpGetSubscription)
	if _, err := client.Subscriptions().BySubscriptionId(id).Get(ctx, nil); err != nil {
		t.Fatalf("get after one 429: %v", describe(err))
	}
	srv.FailNext(10, 429, "", msgraphtest.OpGetSubscription)
	_, err = client.Subscriptions().BySubscriptionId(id).Get(ctx, nil)
	var throttled *odataerrors.ODataError
	if !errors.As(err, &throttled) || throttled.ResponseStatusCode != 429 || deref(throttled.GetErrorEscaped().GetCode()) != "TooManyRequests" {
		t.Fatalf("persistent 429: %v", describe(err))
	}
	srv.ClearFaults()

	// Renew, reauthorize, get, delete.
	patch := models.NewSubscription()
	patch.SetExpirationDateTime(ptr(t0.Add(5 * 24 * time.Hour)))
	renewed, err := client.Subscriptions().BySubscriptionId(id).Patch(ctx, patch, nil)
	if err != nil {
		t.Fatalf("renew: %v", describe(err))
	}
	if exp := renewed.GetExpirationDateTime(); exp == nil || !exp.Equal(t0.Add(5*24*time.Hour)) {
		t.Fatalf("renewed expirationDateTime = %v", exp)
	}
	if err := client.Subscriptions().BySubscriptionId(id).Reauthorize().Post(ctx, nil); err != nil {
		t.Fatalf("reauthorize: %v", describe(err))
	}
	if err := client.Subscriptions().BySubscriptionId(id).Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %v", describe(err))
	}
	_, err = client.Subscriptions().BySubscriptionId(id).Patch(ctx, patch, nil)
	var oerr *odataerrors.ODataError
	if !errors.As(err, &oerr) || oerr.ResponseStatusCode != 404 || oerr.GetErrorEscaped() == nil || deref(oerr.GetErrorEscaped().GetCode()) != "ResourceNotFound" {
		t.Fatalf("renew after delete: %v, want 404 ResourceNotFound", describe(err))
	}

	// The expired-token path through the SDK: 410 with the recorded code.
	if err := srv.ExpireDeltaTokens("alice", "", ""); err != nil {
		t.Fatal(err)
	}
	_, err = builder.WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, nil)
	if !errors.As(err, &oerr) || oerr.ResponseStatusCode != 410 || deref(oerr.GetErrorEscaped().GetCode()) != "SyncStateNotFound" {
		t.Fatalf("expired delta: %v, want 410 SyncStateNotFound", describe(err))
	}
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// describe renders an SDK error with Graph's code and message.
func describe(err error) string {
	var oerr *odataerrors.ODataError
	if errors.As(err, &oerr) && oerr.GetErrorEscaped() != nil {
		return err.Error() + ": " + deref(oerr.GetErrorEscaped().GetCode()) + ": " + deref(oerr.GetErrorEscaped().GetMessage())
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestSDKEventDetails writes an event with the SDK's models (attendees,
// online meeting, showAs, sensitivity, HTML body) and reads it back with
// the SDK from calendarView delta.
func TestSDKEventDetails(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	client := newSDKClient(t, srv)
	ctx := context.Background()

	ev := models.NewEvent()
	ev.SetSubject(ptr("Planning"))
	body := models.NewItemBody()
	body.SetContentType(ptr(models.HTML_BODYTYPE))
	body.SetContent(ptr("<p>Agenda</p>"))
	ev.SetBody(body)
	for i, at := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		dt := models.NewDateTimeTimeZone()
		dt.SetDateTime(ptr(at.Format("2006-01-02T15:04:05")))
		dt.SetTimeZone(ptr("UTC"))
		if i == 0 {
			ev.SetStart(dt)
		} else {
			ev.SetEnd(dt)
		}
	}
	loc := models.NewLocation()
	loc.SetDisplayName(ptr("Room 4"))
	ev.SetLocation(loc)
	ev.SetShowAs(ptr(models.WORKINGELSEWHERE_FREEBUSYSTATUS))
	ev.SetSensitivity(ptr(models.CONFIDENTIAL_SENSITIVITY))
	ev.SetIsOnlineMeeting(ptr(true))
	ev.SetOnlineMeetingProvider(ptr(models.TEAMSFORBUSINESS_ONLINEMEETINGPROVIDERTYPE))
	var attendees []models.Attendeeable
	for _, a := range []struct {
		addr string
		typ  models.AttendeeType
	}{{"bob@contoso.com", models.OPTIONAL_ATTENDEETYPE}, {"room4@contoso.com", models.RESOURCE_ATTENDEETYPE}} {
		at := models.NewAttendee()
		at.SetTypeEscaped(ptr(a.typ))
		addr := models.NewEmailAddress()
		addr.SetAddress(ptr(a.addr))
		at.SetEmailAddress(addr)
		attendees = append(attendees, at)
	}
	ev.SetAttendees(attendees)
	created, err := client.Me().Events().Post(ctx, ev, nil)
	if err != nil {
		t.Fatalf("create: %v", describe(err))
	}
	join := ""
	if om := created.GetOnlineMeeting(); om != nil {
		join = deref(om.GetJoinUrl())
	}
	if join == "" {
		t.Fatal("created event has no onlineMeeting.joinUrl")
	}

	start, end := t0.Format(time.RFC3339), t0.Add(24*time.Hour).Format(time.RFC3339)
	resp, err := client.Me().CalendarView().Delta().GetAsDeltaGetResponse(ctx, &users.ItemCalendarViewDeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemCalendarViewDeltaRequestBuilderGetQueryParameters{StartDateTime: &start, EndDateTime: &end},
	})
	if err != nil {
		t.Fatalf("delta: %v", describe(err))
	}
	if len(resp.GetValue()) != 1 {
		t.Fatalf("delta returned %d events", len(resp.GetValue()))
	}
	got := resp.GetValue()[0]
	if deref(got.GetShowAs()) != models.WORKINGELSEWHERE_FREEBUSYSTATUS || deref(got.GetSensitivity()) != models.CONFIDENTIAL_SENSITIVITY ||
		deref(got.GetBody().GetContentType()) != models.HTML_BODYTYPE || deref(got.GetBodyPreview()) != "Agenda" ||
		deref(got.GetLocation().GetDisplayName()) != "Room 4" || !deref(got.GetIsOrganizer()) ||
		deref(got.GetResponseStatus().GetResponse()) != models.ORGANIZER_RESPONSETYPE ||
		got.GetOnlineMeeting() == nil || deref(got.GetOnlineMeeting().GetJoinUrl()) != join || deref(got.GetWebLink()) == "" {
		t.Errorf("event read back with the SDK lost properties: %+v", got.GetBackingStore().Enumerate())
	}
	as := got.GetAttendees()
	if len(as) != 2 {
		t.Fatalf("%d attendees", len(as))
	}
	for i, want := range []models.AttendeeType{models.OPTIONAL_ATTENDEETYPE, models.RESOURCE_ATTENDEETYPE} {
		if deref(as[i].GetTypeEscaped()) != want || as[i].GetStatus() == nil || deref(as[i].GetStatus().GetResponse()) != models.NONE_RESPONSETYPE {
			t.Errorf("attendee %d: type %v status %v", i, as[i].GetTypeEscaped(), as[i].GetStatus())
		}
	}
	if org := got.GetOrganizer(); org == nil || deref(org.GetEmailAddress().GetAddress()) != "alice@contoso.onmicrosoft.com" {
		t.Errorf("organizer = %v", org)
	}
}
