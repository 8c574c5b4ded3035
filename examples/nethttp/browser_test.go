package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// newBrowser returns a chromedp context on a fresh headless Chromium, or
// skips the test when there is none and CALSYNC_REQUIRE_BROWSER is unset
// (CI sets it, so there a missing browser fails).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CALSYNC_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		msg := "no Chromium at " + path + " (set CALSYNC_CHROMIUM to its path): " + err.Error()
		if os.Getenv("CALSYNC_REQUIRE_BROWSER") != "" {
			t.Fatal(msg + "; CALSYNC_REQUIRE_BROWSER is set, so the browser test must run")
		}
		t.Skip(msg)
	}
	// The whole browser session gets a deadline; single steps get none
	// (chromedp: a timeout on the first call would stop the browser).
	parent, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// screenshots returns where the test saves its screenshots:
// $CALSYNC_SCREENSHOTS, or a temporary directory.
func screenshots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CALSYNC_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testID is the CSS selector of the element with that data-testid.
func testID(id string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="` + id + `"]`)
}

// A user signs in, connects a Google and an Outlook calendar through the
// connect flow and the picker, and sees them synced; the Google grant is revoked at Google, the
// status page says the account needs reconnecting; the user reconnects,
// and the calendar syncs again, with the event made while it was parked.
func TestBrowserConnectRevokeReconnect(t *testing.T) {
	ctx := newBrowser(t)
	ta := startApp(t)
	dir := screenshots(t)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage:\n%s", what, err, html)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	const (
		account        = "google:alice"
		workCal        = account + "/" + demoWork
		outlookAccount = "msgraph:alice"
	)
	do("sign in",
		chromedp.Navigate(ta.srv.URL+"/"),
		chromedp.SendKeys(chromedp.ID("signin-name"), "alice"),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.ID("connect-google")),
	)
	if got := text(chromedp.CSS("#signed-in-as")); got != "alice" {
		t.Errorf("signed in as %q, want alice", got)
	}

	// Connect: the emulated consent is automatic, so the flow lands on
	// the picker.
	do("connect Google", chromedp.Click(chromedp.ID("connect-google")), chromedp.WaitVisible(chromedp.ID("picker")))
	for _, c := range []string{demoWork, demoFamily, demoTeam} {
		do("picker lists "+c, chromedp.WaitVisible(testID("pick-"+c)))
	}
	shot("1-picker-google")
	do("pick the work calendar",
		chromedp.Click(testID("pick-"+demoWork)),
		chromedp.Click(chromedp.ID("choose-submit")),
		chromedp.WaitVisible(testID("calendar-"+workCal)),
	)
	if got := text(testID("status-" + account)); got != "active" {
		t.Errorf("account status %q, want active", got)
	}
	if got := text(testID("last-sync-" + workCal)); got == "never" || got == "" {
		t.Errorf("last sync %q, want a time", got)
	}
	if got := text(testID("events-" + workCal)); !strings.Contains(got, "Planning") {
		t.Errorf("events of the work calendar %q, want the seeded Planning", got)
	}
	if cals, _ := ta.store.ListCalendars(ctx); len(cals) != 1 {
		t.Errorf("%d calendars connected, want only the one picked", len(cals))
	}
	shot("2-status-google")

	// The same for Outlook, through the Graph emulator's identity platform.
	outlookPrimary, err := ta.emu.outlookPrimary()
	if err != nil {
		t.Fatal(err)
	}
	outlookCal := outlookAccount + "/" + outlookPrimary
	do("connect Outlook", chromedp.Click(chromedp.ID("connect-outlook")), chromedp.WaitVisible(chromedp.ID("picker")),
		chromedp.WaitVisible(testID("pick-"+demoProjects)))
	shot("3-picker-outlook")
	do("pick the Outlook calendar",
		chromedp.Click(testID("pick-"+outlookPrimary)),
		chromedp.Click(chromedp.ID("choose-submit")),
		chromedp.WaitVisible(testID("calendar-"+outlookCal)),
	)
	if got := text(testID("status-" + outlookAccount)); got != "active" {
		t.Errorf("Outlook account status %q, want active", got)
	}
	if got := text(testID("last-sync-" + outlookCal)); got == "never" || got == "" {
		t.Errorf("Outlook last sync %q, want a time", got)
	}
	if got := text(testID("events-" + outlookCal)); !strings.Contains(got, "Design review") {
		t.Errorf("events of the Outlook calendar %q, want the seeded Design review", got)
	}
	shot("4-status")

	// The user revokes the app's access at Google; a change made meanwhile
	// pushes a notification whose sync finds the grant refused.
	ta.emu.google.RevokeGrants()
	if _, err := ta.emu.google.InsertEvent(demoWork, googleEvent("Made while parked", time.Now().Add(48*time.Hour).Truncate(time.Hour), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ta.emu.google.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ta.engine.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if acc, err := ta.engine.Account(ctx, account); err != nil || acc.Status != calsync.AccountNeedsReauth {
		t.Fatalf("after the revocation and a push, account = %+v (%v), want needs_reauth", acc, err)
	}
	do("status page shows the reconnect button", chromedp.Reload(), chromedp.WaitVisible(testID("reconnect-"+account)))
	if got := text(testID("status-" + account)); got != "needs reconnection" {
		t.Errorf("account status %q, want needs reconnection", got)
	}
	if got := text(testID("events-" + workCal)); strings.Contains(got, "Made while parked") {
		t.Errorf("the event made after the revocation was synced while parked: %q", got)
	}
	if got := text(testID("status-" + outlookAccount)); got != "active" {
		t.Errorf("Outlook account status %q after Google's revocation, want active", got)
	}
	shot("5-needs-reauth")

	// Reconnect: the flow resumes the account and lands back on the
	// status page; the calendar caught up.
	do("reconnect", chromedp.Click(testID("reconnect-"+account)), chromedp.WaitVisible(testID("flash-"+google.Name)))
	if got := text(testID("status-" + account)); got != "active" {
		t.Errorf("account status after reconnecting %q, want active", got)
	}
	if got := text(testID("events-" + workCal)); !strings.Contains(got, "Made while parked") {
		t.Errorf("events after reconnecting %q, want the one made while parked", got)
	}
	if got := text(testID("error-" + workCal)); got != "none" {
		t.Errorf("last error after reconnecting %q, want none", got)
	}
	if gone, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="reconnect-`+account+`"]') === null`)); err != nil || !gone {
		t.Errorf("the Reconnect button is still shown after reconnecting (%v)", err)
	}
	shot("6-reconnected")

	// The same at Microsoft: the user's sessions are revoked; Outlook's
	// account is parked alone and comes back the same way.
	ta.emu.graph.RevokeGrants(demoOutlookUser)
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	if _, err := ta.emu.graph.CreateEvent(demoOutlookUser, "", msgraphtest.Event{Subject: "Booked while revoked", Start: start, End: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := ta.emu.graph.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ta.engine.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if acc, err := ta.engine.Account(ctx, outlookAccount); err != nil || acc.Status != calsync.AccountNeedsReauth {
		t.Fatalf("after Microsoft's revocation and a notification, account = %+v (%v), want needs_reauth", acc, err)
	}
	do("Outlook needs reconnecting", chromedp.Reload(), chromedp.WaitVisible(testID("reconnect-"+outlookAccount)))
	if got := text(testID("status-" + account)); got != "active" {
		t.Errorf("Google account status %q after Microsoft's revocation, want active", got)
	}
	do("reconnect Outlook", chromedp.Click(testID("reconnect-"+outlookAccount)), chromedp.WaitVisible(testID("flash-"+msgraph.Name)))
	if got := text(testID("status-" + outlookAccount)); got != "active" {
		t.Errorf("Outlook account status after reconnecting %q, want active", got)
	}
	if got := text(testID("events-" + outlookCal)); !strings.Contains(got, "Booked while revoked") {
		t.Errorf("Outlook events after reconnecting %q, want the one booked while revoked", got)
	}

	// Disconnect: the Google account's calendars stop syncing and its
	// token is forgotten; Outlook's stay.
	do("disconnect Google", chromedp.Click(testID("disconnect-"+account)), chromedp.WaitVisible(testID("disconnected-"+account)))
	if got := text(testID("status-" + account)); got != "disconnected" {
		t.Errorf("Google account status after disconnecting %q, want disconnected", got)
	}
	if got := text(testID("status-" + outlookAccount)); got != "active" {
		t.Errorf("Outlook account status after disconnecting Google %q, want active", got)
	}
	if cals, _ := ta.store.ListCalendars(ctx); len(cals) != 1 || cals[0].ID != outlookCal {
		t.Errorf("calendars after disconnecting Google = %v, want only %s", cals, outlookCal)
	}
	shot("7-disconnected")

	tok, err := ta.vault.Token(ctx, ta.store, outlookAccount)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, ta.log.String(), tok.AccessToken, tok.RefreshToken)
}
