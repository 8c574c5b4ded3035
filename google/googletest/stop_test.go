package googletest_test

import (
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

// onChannel returns the log entries of one channel's "exists" pushes.
func onChannel(srv *googletest.Server, id string) []googletest.Delivery {
	var out []googletest.Delivery
	for _, d := range srv.Deliveries() {
		if d.ChannelID == id && d.ResourceState == "exists" {
			out = append(out, d)
		}
	}
	return out
}

func stop(t *testing.T, svc *calendar.Service, ch *calendar.Channel) {
	t.Helper()
	if err := svc.Channels.Stop(&calendar.Channel{Id: ch.Id, ResourceId: ch.ResourceId}).Do(); err != nil {
		t.Fatalf("stop %s: %v", ch.Id, err)
	}
}

// A stopped channel still receives the pushes of changes made within
// Config.StopGrace (by Config.Now) of the stop, and
// nothing after.
func TestLateDeliveryAfterStop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   googletest.Config
		grace time.Duration // 0: no late delivery
	}{
		{"default", googletest.Config{}, googletest.DefaultStopGrace},
		{"one minute", googletest.Config{StopGrace: time.Minute}, time.Minute},
		{"off", googletest.Config{StopGrace: -1}, 0},
		{"exact", googletest.Config{Exact: true}, 0},
		{"exact with grace", googletest.Config{Exact: true, StopGrace: time.Second}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			rc := newReceiver(t)
			tc.cfg.Now, tc.cfg.PushClient = clock.Now, rc.srv.Client()
			srv, svc := newEnv(t, tc.cfg)
			ch := watch(t, svc, "old", rc.srv.URL, "")
			waitIdle(t, srv)
			stop(t, svc, ch)
			if live := srv.Channels(calID); len(live) != 0 {
				t.Fatalf("stopped channel listed: %+v", live)
			}
			apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: ch.Id, ResourceId: ch.ResourceId}).Do(), 404, "notFound")

			insert(t, svc, timedEvent("at the stop", t0, time.Hour))
			if tc.grace > 0 {
				clock.Advance(tc.grace - time.Millisecond)
				insert(t, svc, timedEvent("just within", t0, time.Hour))
			}
			waitIdle(t, srv)
			late := onChannel(srv, ch.Id)
			wantChanges := 0
			if tc.grace > 0 {
				wantChanges = 2
			}
			changes := 0
			for _, d := range late {
				if !d.Stopped || d.Dropped || !d.OK() {
					t.Fatalf("late push %+v: want Stopped and delivered", d)
				}
				if d.Push == 1 {
					changes++
				}
			}
			if changes != wantChanges {
				t.Fatalf("late pushes for %d changes, want %d: %+v", changes, wantChanges, late)
			}
			if got := len(rc.requests()); got != 1+len(late) {
				t.Fatalf("receiver got %d requests, want sync + %d late", got, len(late))
			}

			clock.Advance(time.Millisecond) // the window is over
			insert(t, svc, timedEvent("too late", t0, time.Hour))
			waitIdle(t, srv)
			if after := onChannel(srv, ch.Id); len(after) != len(late) {
				t.Fatalf("push after the window: %+v", after[len(late):])
			}
		})
	}
}

// Bug 3's trap: a change announced only on the old channel, whose push goes
// out after a renewal stopped that channel, is never delivered, unless
// Config.DeliverQueuedAfterStop.
func TestQueuedPushDroppedByStop(t *testing.T) {
	for _, deliver := range []bool{false, true} {
		name := map[bool]string{false: "dropped", true: "DeliverQueuedAfterStop"}[deliver]
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(t)
			srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), DeliverQueuedAfterStop: deliver})
			old := watch(t, svc, "old", rc.srv.URL+"/old", "")
			waitIdle(t, srv)

			srv.PauseNotifications()
			insert(t, svc, timedEvent("announced on old only", t0, time.Hour))
			waitIdle(t, srv) // returns: parked pushes wait for Resume, not time
			if n := len(rc.requests()); n != 1 {
				t.Fatalf("paused push delivered: %d requests", n)
			}
			renewed := watch(t, svc, "new", rc.srv.URL+"/new", "")
			stop(t, svc, old)
			srv.ResumeNotifications()
			waitIdle(t, srv)

			pushes := onChannel(srv, old.Id)
			if len(pushes) == 0 {
				t.Fatal("no log entry for the old channel's push")
			}
			for _, d := range pushes {
				if !d.Stopped || d.Dropped == deliver {
					t.Fatalf("push %+v: want Stopped, Dropped=%v", d, !deliver)
				}
			}
			var onOld, onNew int
			for _, r := range rc.requests() {
				switch {
				case r.URL.Path == "/old" && r.Header.Get("X-Goog-Resource-State") == "exists":
					onOld++
				case r.URL.Path == "/new" && r.Header.Get("X-Goog-Resource-State") == "exists":
					onNew++
				}
			}
			if want := map[bool]int{false: 0, true: len(pushes)}[deliver]; onOld != want {
				t.Fatalf("old channel got %d pushes, want %d", onOld, want)
			}
			if onNew != 0 {
				t.Fatalf("new channel %s got %d pushes of a change made before it existed", renewed.Id, onNew)
			}
		})
	}
}

// Pause parks pushes in order; Resume sends them.
func TestPauseNotifications(t *testing.T) {
	rc := newReceiver(t)
	srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), Exact: true})
	srv.PauseNotifications()
	watch(t, svc, "c", rc.srv.URL, "")
	for i := range 3 {
		insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
	}
	waitIdle(t, srv)
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d pushes while paused", n)
	}
	srv.ResumeNotifications()
	waitIdle(t, srv)
	n := numbers(t, rc)
	if len(n) != 4 || n[0] != 1 || !(n[1] < n[2] && n[2] < n[3]) {
		t.Fatalf("numbers after resume = %v, want sync then three in order", n)
	}
}
