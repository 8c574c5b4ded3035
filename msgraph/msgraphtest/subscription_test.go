package msgraphtest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

func TestCreateSubscriptionValidatesAndReturns201(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	lc := newReceiver(t)
	sub := createSub(t, srv, rc.ts.URL+"/hook?x=1", map[string]any{"lifecycleNotificationUrl": lc.ts.URL + "/lc"})
	for _, k := range []string{"@odata.context", "id", "applicationId", "creatorId", "resource", "changeType", "notificationUrl", "lifecycleNotificationUrl", "latestSupportedTlsVersion"} {
		if sub[k] == nil || sub[k] == "" {
			t.Errorf("subscription lacks %s: %v", k, sub)
		}
	}
	if got, want := sub["expirationDateTime"], t0.Add(time.Hour).Format("2006-01-02T15:04:05")+".0000000Z"; got != want {
		t.Errorf("expirationDateTime = %v, want %v", got, want)
	}
	var validations []msgraphtest.Delivery
	for _, d := range srv.Deliveries() {
		if d.Kind == msgraphtest.KindValidation {
			validations = append(validations, d)
		}
	}
	if len(validations) != 2 || !strings.HasSuffix(validations[0].URL, "/hook?x=1") || !strings.HasSuffix(validations[1].URL, "/lc") {
		t.Fatalf("validations = %+v, want notificationUrl then lifecycleNotificationUrl", validations)
	}
	if subs := srv.Subscriptions(); len(subs) != 1 || subs[0].ID != sub["id"] || subs[0].User != "alice" {
		t.Fatalf("Subscriptions() = %+v", subs)
	}
}

func TestCreateSubscriptionValidationFailures(t *testing.T) {
	cases := []struct {
		name     string
		validate func(w http.ResponseWriter, r *http.Request, token string)
		message  string
	}{
		{"wrong echo", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("not the token"))
		}, "Response must exactly match validationToken"},
		{"encoded echo", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strings.ReplaceAll(token, " ", "%20")))
		}, "Response must exactly match validationToken"},
		{"not 200", func(w http.ResponseWriter, r *http.Request, token string) {
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(token))
		}, "must respond with 200 OK"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newServer(t, msgraphtest.Config{})
			rc := newReceiver(t)
			rc.setValidate(tc.validate)
			resp, b := api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), nil), nil)
			e := expectError(t, resp, b, http.StatusBadRequest, "InvalidRequest")
			if !strings.Contains(e.Error.Message, tc.message) {
				t.Errorf("message %q lacks %q", e.Error.Message, tc.message)
			}
			if len(srv.Subscriptions()) != 0 {
				t.Error("a subscription was created")
			}
		})
	}
}

func TestCreateSubscriptionValidationTimeout(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{ValidationTimeout: 200 * time.Millisecond})
	rc := newReceiver(t)
	release := make(chan struct{})
	rc.setValidate(func(w http.ResponseWriter, r *http.Request, token string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(token))
	})
	defer close(release)
	resp, b := api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), nil), nil)
	e := expectError(t, resp, b, http.StatusBadRequest, "InvalidRequest")
	if !strings.Contains(e.Error.Message, "Subscription validation request") {
		t.Errorf("message = %q", e.Error.Message)
	}
	if len(srv.Subscriptions()) != 0 {
		t.Error("a subscription was created")
	}
}
