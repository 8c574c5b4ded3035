package googletest

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Delivery is one entry of the push log returned by [Server.Deliveries]:
// an HTTP attempt, or a notification dropped by [Server.DropNextNotifications].
type Delivery struct {
	// ChannelID is the channel the notification belongs to.
	ChannelID string
	// ResourceState is "sync" or "exists".
	ResourceState string
	// MessageNumber is the X-Goog-Message-Number sent.
	MessageNumber int64
	// Push numbers the pushes one change sent to this channel, from 1 to
	// at most Config.MaxPushesPerChange; each has its own message number.
	// It is 1 for "sync".
	Push int
	// Attempt counts the HTTP attempts of this notification, from 1; 0 for
	// a dropped notification.
	Attempt int
	// StatusCode is the receiver's HTTP status, 0 when there was none.
	StatusCode int
	// Err is the transport error, if the attempt got no response.
	Err error
	// Duplicate marks the second copy of a duplicated notification.
	Duplicate bool
	// Dropped marks a push that was not sent: discarded by
	// DropNextNotifications, or (with Stopped) because its channel was
	// stopped before its turn came.
	Dropped bool
	// Stopped marks a push to a channel that had been stopped: a late
	// delivery of a change made within Config.StopGrace after the stop (or,
	// with Config.DeliverQueuedAfterStop, of one made before it), or with
	// Dropped a push discarded because of the stop.
	Stopped bool
	// Time is Config.Now when the attempt was made.
	Time time.Time
}

// OK reports whether the receiver acknowledged the notification: Google
// counts 200, 201, 202, 204 and 102 as success
// (https://developers.google.com/workspace/calendar/api/guides/push).
func (d Delivery) OK() bool { return pushSuccess(d.StatusCode) }

func pushSuccess(code int) bool {
	switch code {
	case 200, 201, 202, 204, 102:
		return true
	}
	return false
}

func pushRetriable(code int) bool {
	switch code {
	case 500, 502, 503, 504:
		return true
	}
	return false
}

// pushItem is one push waiting for delivery.
type pushItem struct {
	ch        *channel
	state     string
	number    int64
	push      int       // 1..n among the pushes of one notification
	notBefore time.Time // real time
	duplicate bool
	afterStop bool // made for a channel already stopped (Config.StopGrace)
}

// pushQueue serialises the deliveries of one channel, so a receiver sees a
// channel's notifications in the order they were made (unless
// ReorderNotifications says otherwise).
type pushQueue struct {
	items   []*pushItem
	running bool
}

// notifyLocked makes a notification for ch: one push for "sync", and 1 to
// Config.MaxPushesPerChange pushes for a change, each with its own message
// number. The caller holds s.mu, which keeps message numbers and queue
// order consistent.
func (s *Server) notifyLocked(ch *channel, state string) {
	afterStop := ch.stopped
	numbers := []int64{1} // sync is always 1 (A.6)
	if state == "sync" {
		ch.lastNumber = max(ch.lastNumber, 1)
	} else {
		numbers = make([]int64, 1+s.chaos.IntN(s.cfg.MaxPushesPerChange))
		for i := range numbers {
			// Strictly increasing, not consecutive (A.6).
			ch.lastNumber = max(ch.lastNumber, 1) + 2 + s.chaos.Int64N(999)
			numbers[i] = ch.lastNumber
		}
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.closed {
		return
	}
	if s.dropN > 0 {
		s.dropN--
		for i, n := range numbers {
			s.deliveries = append(s.deliveries, Delivery{ChannelID: ch.ID, ResourceState: state,
				MessageNumber: n, Push: i + 1, Dropped: true, Time: s.cfg.Now()})
		}
		return
	}
	copies := 1
	if s.dupN > 0 {
		s.dupN--
		copies = 2
	}
	var items []*pushItem
	for i, n := range numbers {
		for c := range copies {
			items = append(items, &pushItem{ch: ch, state: state, number: n, push: i + 1,
				notBefore: time.Now().Add(s.delay), duplicate: c == 1, afterStop: afterStop})
		}
	}
	if s.reorderK > 0 {
		s.held = append(s.held, items)
		if len(s.held) >= s.reorderK {
			s.releaseHeldLocked()
		}
		return
	}
	for _, it := range items {
		s.enqueueLocked(it)
	}
}

// releaseHeldLocked queues the pushes of the held notifications in reverse
// order and ends reordering. The caller holds s.pmu.
func (s *Server) releaseHeldLocked() {
	held := s.held
	s.held, s.reorderK = nil, 0
	for i := len(held) - 1; i >= 0; i-- {
		for j := len(held[i]) - 1; j >= 0; j-- {
			s.enqueueLocked(held[i][j])
		}
	}
}

// enqueueLocked queues it on its channel's queue, or parks it while
// notifications are paused. The caller holds s.pmu.
func (s *Server) enqueueLocked(it *pushItem) {
	if s.closed {
		return
	}
	if s.paused {
		s.parked = append(s.parked, it)
		return
	}
	q := s.queues[it.ch]
	if q == nil {
		q = &pushQueue{}
		s.queues[it.ch] = q
	}
	q.items = append(q.items, it)
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending++
	if !q.running {
		q.running = true
		s.wg.Add(1)
		go s.runQueue(it.ch, q)
	}
}

func (s *Server) doneLocked(n int) {
	s.pending -= n
	if s.pending == 0 {
		close(s.idle)
	}
}

// runQueue delivers the notifications of one channel until its queue is
// empty or the server closes.
func (s *Server) runQueue(ch *channel, q *pushQueue) {
	defer s.wg.Done()
	for {
		s.pmu.Lock()
		if len(q.items) == 0 || s.ctx.Err() != nil {
			n := len(q.items)
			q.items, q.running = nil, false
			delete(s.queues, ch)
			if n > 0 {
				s.doneLocked(n)
			}
			s.pmu.Unlock()
			return
		}
		it := q.items[0]
		q.items = q.items[1:]
		s.pmu.Unlock()

		s.deliver(it)

		s.pmu.Lock()
		s.doneLocked(1)
		s.pmu.Unlock()
	}
}

// sleep waits d of real time; it reports false if the server closed first.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// deliver POSTs one notification, retrying on 500/502/503/504 with
// exponential backoff. Transport errors are not retried: Google only
// documents retries for those status codes.
func (s *Server) deliver(it *pushItem) {
	if !s.sleep(time.Until(it.notBefore)) {
		return
	}
	backoff := s.cfg.PushBackoff
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		now := s.cfg.Now()
		expired, stopped := !now.Before(it.ch.Expiration), it.ch.stopped
		c := it.ch.copy()
		s.mu.Unlock()
		if expired {
			return // expired channels deliver nothing
		}
		entry := Delivery{
			ChannelID: c.ID, ResourceState: it.state, MessageNumber: it.number, Push: it.push, Attempt: attempt,
			Duplicate: it.duplicate, Stopped: stopped, Time: now,
		}
		if stopped && !it.afterStop && !s.cfg.DeliverQueuedAfterStop {
			// Made before the stop, sent after it: dropped.
			entry.Attempt, entry.Dropped = 0, true
			s.pmu.Lock()
			s.deliveries = append(s.deliveries, entry)
			s.pmu.Unlock()
			return
		}
		entry.StatusCode, entry.Err = s.post(c, it)
		status, err := entry.StatusCode, entry.Err
		s.pmu.Lock()
		entry.Time = s.cfg.Now()
		s.deliveries = append(s.deliveries, entry)
		s.pmu.Unlock()
		if err != nil {
			s.cfg.Logger.Debug("googletest: notification failed", "channel", c.ID, "state", it.state, "error", err)
		}
		if err != nil || !pushRetriable(status) || attempt > s.cfg.PushRetries {
			return
		}
		if !s.sleep(backoff) {
			return
		}
		backoff *= 2
	}
}

// post sends the notification request of A.6: empty body, X-Goog-* headers.
func (s *Server) post(c Channel, it *pushItem) (int, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, c.Address, http.NoBody)
	if err != nil {
		return 0, err
	}
	h := req.Header
	// Spelled as in the guide's table; receivers match case-insensitively.
	h["X-Goog-Channel-ID"] = []string{c.ID}
	if c.Token != "" {
		h["X-Goog-Channel-Token"] = []string{c.Token}
	}
	h["X-Goog-Channel-Expiration"] = []string{c.Expiration.UTC().Format(http.TimeFormat)}
	h["X-Goog-Resource-ID"] = []string{c.ResourceID}
	h["X-Goog-Resource-URI"] = []string{c.ResourceURI}
	h["X-Goog-Resource-State"] = []string{it.state}
	h["X-Goog-Message-Number"] = []string{strconv.FormatInt(it.number, 10)}
	h["User-Agent"] = []string{PushUserAgent}
	h["Accept"] = []string{"*/*"}
	resp, err := s.cfg.PushClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// WaitIdle blocks until no notification is queued, waiting (delay or retry
// backoff) or in flight, so tests never need to sleep. Notifications held
// by ReorderNotifications are not waited for: they wait for more
// notifications, not for time. It returns ctx's error if ctx ends first
// and ErrClosed if the server is closed.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.pmu.Lock()
		idle, closed := s.idle, s.closed
		s.pmu.Unlock()
		if closed {
			return ErrClosed
		}
		select {
		case <-idle:
			s.pmu.Lock()
			done := s.pending == 0
			s.pmu.Unlock()
			if done {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrClosed
		}
	}
}

// Deliveries returns a copy of the push log: every delivery attempt and
// every dropped notification, in the order they happened.
func (s *Server) Deliveries() []Delivery {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// DropNextNotifications discards the next n notifications (of any channel;
// a notification is every push of one change to one channel) without
// delivering them; their pushes appear in Deliveries with Dropped set.
// Google warns that a small percentage of messages get dropped (A.7).
func (s *Server) DropNextNotifications(n int) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.dropN = max(n, 0)
}

// DuplicateNextNotifications delivers every push of each of the next n
// notifications twice, with the same message number; the second copy is
// logged with Duplicate set.
func (s *Server) DuplicateNextNotifications(n int) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.dupN = max(n, 0)
}

// DelayNotifications delays every later notification by d of real time
// after it was made (0 restores immediate delivery). WaitIdle waits for
// delayed notifications.
func (s *Server) DelayNotifications(d time.Duration) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.delay = max(d, 0)
}

// PauseNotifications parks every push made from now on (and every push
// released by ReorderNotifications) until ResumeNotifications; pushes
// already queued still go out. WaitIdle does not wait for parked pushes:
// they wait for ResumeNotifications, not for time. Tests use it to order a
// push after another event deterministically, e.g. to stop a channel
// between a change and the delivery of its push.
func (s *Server) PauseNotifications() {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.paused = true
}

// ResumeNotifications ends PauseNotifications and queues the parked pushes
// in the order they were made.
func (s *Server) ResumeNotifications() {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	parked := s.parked
	s.paused, s.parked = false, nil
	for _, it := range parked {
		s.enqueueLocked(it)
	}
}

// ReorderNotifications holds the next k notifications and, once k are held,
// delivers their pushes in reverse order (a channel's later push, with its
// higher message number, arrives first). It then stops reordering. k <= 0
// stops reordering and releases the notifications held so far, in reverse
// order.
func (s *Server) ReorderNotifications(k int) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if k <= 0 {
		s.releaseHeldLocked()
		return
	}
	s.reorderK = k
	if len(s.held) >= k {
		s.releaseHeldLocked()
	}
}
