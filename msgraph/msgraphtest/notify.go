package msgraphtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Kinds of [Delivery].
const (
	KindValidation   = "validation"   // validation handshake (create, renew, reauthorize)
	KindNotification = "notification" // change notifications
	KindLifecycle    = "lifecycle"    // lifecycle notifications
)

// Lifecycle events for [Server.SendLifecycle]
// (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events).
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// Delivery is one attempt to POST to a receiver, as [Server.Deliveries]
// logs it.
type Delivery struct {
	Kind string // KindValidation, KindNotification or KindLifecycle
	URL  string // the notificationUrl / lifecycleNotificationUrl, without validationToken
	// SubscriptionIDs lists the subscriptions whose items the POST carried,
	// in order (empty for validation).
	SubscriptionIDs []string
	// Body is the JSON body ({"value":[...]}); nil for validation.
	Body []byte
	// Attempt counts from 1 for each try of the same POST.
	Attempt int
	// StatusCode is the receiver's status, 0 if there was no answer.
	StatusCode int
	// Err is the transport error or timeout, if any.
	Err error
	// Dropped is set when the POST was never sent: suppressed by
	// DropNextNotifications or DropAllNotifications, or a validation
	// timed out by TimeOutNextValidations. Duplicate is set on the extra
	// copy of DuplicateNextNotifications.
	Dropped   bool
	Duplicate bool
	Time      time.Time
}

// OK reports whether the receiver answered 2xx.
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// changeNotification is one item of a changeNotificationCollection
// (https://learn.microsoft.com/en-us/graph/api/resources/changenotification).
type changeNotification struct {
	SubscriptionID                 string        `json:"subscriptionId"`
	SubscriptionExpirationDateTime string        `json:"subscriptionExpirationDateTime"`
	ChangeType                     string        `json:"changeType,omitempty"`
	LifecycleEvent                 string        `json:"lifecycleEvent,omitempty"`
	Resource                       string        `json:"resource,omitempty"`
	ResourceData                   *resourceData `json:"resourceData,omitempty"`
	ClientState                    *string       `json:"clientState"`
	TenantID                       string        `json:"tenantId"`
}

type resourceData struct {
	ODataType string `json:"@odata.type"`
	ODataID   string `json:"@odata.id"`
	ODataEtag string `json:"@odata.etag"`
	ID        string `json:"id"`
}

type deliveryQueue struct {
	kind, url  string
	collecting []changeNotification
	timer      *time.Timer
	ready      [][]changeNotification
	running    bool
}

func (q *deliveryQueue) busy() bool {
	return len(q.collecting) > 0 || len(q.ready) > 0 || q.running
}

// Change types of notifications.
const (
	changeCreated = "created"
	changeUpdated = "updated"
	changeDeleted = "deleted"
)

// repeatsLocked is how many "updated" notifications one update causes: 1
// with Config.ExactNotifications, else 1 to 3
// (microsoftgraph/microsoft-graph-docs#7598).
func (s *Server) repeatsLocked() int {
	if s.cfg.ExactNotifications {
		return 1
	}
	return 1 + s.chaos.IntN(3)
}

// notifyCreatedLocked notifies the creation of eventID: "created", then
// "updated" unless Config.ExactNotifications (Graph typically sends both
// for one creation, microsoftgraph/microsoft-graph-docs-contrib#3072).
func (s *Server) notifyCreatedLocked(c *calendarState, eventID string) {
	s.notifyLocked(c, changeCreated, eventID)
	if !s.cfg.ExactNotifications {
		s.notifyLocked(c, changeUpdated, eventID)
	}
}

// notifyUpdatedLocked notifies an update of eventID, repeatsLocked times.
func (s *Server) notifyUpdatedLocked(c *calendarState, eventID string) {
	for range s.repeatsLocked() {
		s.notifyLocked(c, changeUpdated, eventID)
	}
}

// notifyOccurrenceLocked notifies a change to an occurrence: the series
// master is "updated" (repeatsLocked times); unless
// Config.ExactNotifications the occurrence itself is notified first, with
// changeType.
func (s *Server) notifyOccurrenceLocked(c *calendarState, changeType, occurrenceID, masterID string) {
	if !s.cfg.ExactNotifications {
		s.notifyLocked(c, changeType, occurrenceID)
	}
	s.notifyUpdatedLocked(c, masterID)
}

// notifyLocked queues one change notification of eventID for every
// subscription that covers calendar c and wants changeType: the live ones
// and those deleted less than Config.DeletedSubscriptionLinger ago. Items
// for one notificationUrl share a POST. s.mu is held.
func (s *Server) notifyLocked(c *calendarState, changeType, eventID string) {
	now := s.cfg.Now()
	ids := make([]string, 0, len(s.subs)+len(s.deleted))
	for id := range s.subs {
		ids = append(ids, id)
	}
	for id, sub := range s.deleted {
		if sub.lingerUntil.After(now) {
			ids = append(ids, id)
		} else {
			delete(s.deleted, id)
		}
	}
	slices.Sort(ids)
	byURL := map[string][]changeNotification{}
	var urls []string
	path := "Users/" + c.user + "/Events/" + eventID
	seq, ok := c.evSeq[eventID]
	if !ok {
		seq = c.instSeq[eventID]
	}
	etag := `W/"` + changeKey(c.id, seq) + `"`
	for _, id := range ids {
		sub := s.subs[id]
		if sub == nil {
			sub = s.deleted[id]
		}
		if !sub.ExpirationDateTime.After(now) || sub.User != c.user ||
			(sub.Calendar != "" && sub.Calendar != c.id) || !slices.Contains(sub.changeTypes, changeType) {
			continue
		}
		if _, ok := byURL[sub.NotificationURL]; !ok {
			urls = append(urls, sub.NotificationURL)
		}
		byURL[sub.NotificationURL] = append(byURL[sub.NotificationURL], changeNotification{
			SubscriptionID:                 sub.ID,
			SubscriptionExpirationDateTime: fmtTime(sub.ExpirationDateTime),
			ChangeType:                     changeType,
			Resource:                       path,
			ResourceData: &resourceData{
				ODataType: "#Microsoft.Graph.Event",
				ODataID:   path,
				ODataEtag: etag,
				ID:        eventID,
			},
			ClientState: clientStatePtr(sub.ClientState),
			TenantID:    s.cfg.TenantID,
		})
	}
	if len(urls) == 0 {
		return
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for _, u := range urls {
		s.enqueueLocked(KindNotification, u, byURL[u])
	}
}

func clientStatePtr(cs string) *string {
	if cs == "" {
		return nil
	}
	return &cs
}

// SendLifecycle POSTs a lifecycle notification (event is
// LifecycleReauthorizationRequired, LifecycleSubscriptionRemoved or
// LifecycleMissed) for a live subscription to its lifecycleNotificationUrl,
// with the shape of the lifecycle guide's sample (no resource, no
// resourceData).
// subscriptionRemoved also deletes the subscription, as Graph does;
// reauthorizationRequired sets [Subscription.ReauthorizationRequired]
// until the client reauthorizes or renews. It returns ErrNotFound for an
// unknown subscription and an error if it has no lifecycleNotificationUrl.
func (s *Server) SendLifecycle(subID, event string) error {
	switch event {
	case LifecycleReauthorizationRequired, LifecycleSubscriptionRemoved, LifecycleMissed:
	default:
		return fmt.Errorf("msgraphtest: unknown lifecycle event %q", event)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.liveSubLocked(subID)
	if sub == nil {
		return fmt.Errorf("%w: subscription %q", ErrNotFound, subID)
	}
	if sub.LifecycleNotificationURL == "" {
		return fmt.Errorf("msgraphtest: subscription %q has no lifecycleNotificationUrl", subID)
	}
	item := changeNotification{
		SubscriptionID:                 sub.ID,
		SubscriptionExpirationDateTime: fmtTime(sub.ExpirationDateTime),
		LifecycleEvent:                 event,
		ClientState:                    clientStatePtr(sub.ClientState),
		TenantID:                       s.cfg.TenantID,
	}
	switch event {
	case LifecycleSubscriptionRemoved:
		delete(s.subs, subID)
	case LifecycleReauthorizationRequired:
		sub.ReauthorizationRequired = true
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.enqueueLocked(KindLifecycle, sub.LifecycleNotificationURL, []changeNotification{item})
	return nil
}

// enqueueLocked adds items to the batch being collected for (kind, url).
// s.dmu is held.
func (s *Server) enqueueLocked(kind, url string, items []changeNotification) {
	if s.closed {
		return
	}
	key := kind + " " + url
	q := s.queues[key]
	if q == nil {
		q = &deliveryQueue{kind: kind, url: url}
		s.queues[key] = q
	}
	q.collecting = append(q.collecting, items...)
	s.updateIdleLocked()
	if s.cfg.BatchWindow < 0 {
		s.flushQueueLocked(q)
		return
	}
	if q.timer == nil {
		q.timer = time.AfterFunc(s.cfg.BatchWindow, func() {
			s.dmu.Lock()
			defer s.dmu.Unlock()
			s.flushQueueLocked(q)
		})
	}
}

// flushQueueLocked ends q's batch window and starts its sender.
func (s *Server) flushQueueLocked(q *deliveryQueue) {
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	if s.closed {
		return
	}
	if len(q.collecting) > 0 {
		q.ready = append(q.ready, q.collecting)
		q.collecting = nil
	}
	if !q.running && len(q.ready) > 0 {
		q.running = true
		s.wg.Add(1)
		go s.runQueue(q)
	}
}

// Flush ends every batch window now: collected notifications are POSTed
// without waiting for Config.BatchWindow.
func (s *Server) Flush() {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for _, q := range s.queues {
		s.flushQueueLocked(q)
	}
}

// updateIdleLocked keeps s.idle closed exactly while no queue is busy.
func (s *Server) updateIdleLocked() {
	busy := false
	if !s.closed {
		for _, q := range s.queues {
			if q.busy() {
				busy = true
				break
			}
		}
	}
	select {
	case <-s.idle:
		if busy {
			s.idle = make(chan struct{})
		}
	default:
		if !busy {
			close(s.idle)
		}
	}
}

// runQueue sends q's batches one at a time, in order.
func (s *Server) runQueue(q *deliveryQueue) {
	defer s.wg.Done()
	for {
		s.dmu.Lock()
		if s.closed || len(q.ready) == 0 {
			q.running = false
			s.updateIdleLocked()
			s.dmu.Unlock()
			return
		}
		batch := q.ready[0]
		q.ready = q.ready[1:]
		drop, dup := false, false
		if s.dropAll {
			drop = true
		} else if s.dropN > 0 {
			s.dropN--
			drop = true
		} else if s.dupN > 0 {
			s.dupN--
			dup = true
		}
		delay := s.delay
		s.dmu.Unlock()

		if delay > 0 && !s.sleep(delay) {
			continue
		}
		body, _ := json.Marshal(map[string]any{"value": batch})
		ids := make([]string, len(batch))
		for i, it := range batch {
			ids[i] = it.SubscriptionID
		}
		if drop {
			s.logDelivery(Delivery{Kind: q.kind, URL: q.url, SubscriptionIDs: ids, Body: body, Dropped: true, Time: s.cfg.Now()})
			continue
		}
		s.deliver(q, ids, body, false)
		if dup {
			s.deliver(q, ids, body, true)
		}
	}
}

// sleep waits d of real time; false if the server closed meanwhile.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// deliver POSTs body with retries on failure.
func (s *Server) deliver(q *deliveryQueue, ids []string, body []byte, duplicate bool) {
	backoff := s.cfg.DeliveryBackoff
	for attempt := 1; ; attempt++ {
		d := Delivery{Kind: q.kind, URL: q.url, SubscriptionIDs: ids, Body: body, Attempt: attempt, Duplicate: duplicate, Time: s.cfg.Now()}
		d.StatusCode, d.Err = s.post(q.url, body)
		s.logDelivery(d)
		s.cfg.Logger.Debug("msgraphtest: delivery", "kind", q.kind, "subscriptions", strings.Join(ids, ","), "attempt", attempt, "status", d.StatusCode, "err", d.Err)
		if d.OK() || attempt > s.cfg.DeliveryRetries || s.ctx.Err() != nil {
			return
		}
		if !s.sleep(backoff) {
			return
		}
		backoff *= 2
	}
}

func (s *Server) post(url string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.cfg.NotificationClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *Server) logDelivery(d Delivery) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.deliveries = append(s.deliveries, d)
}

// WaitIdle ends every batch window and waits until no notification is
// collected, queued, in flight or waiting for a retry, or ctx ends. Tests
// call it instead of sleeping. A closed server is idle.
func (s *Server) WaitIdle(ctx context.Context) error {
	s.Flush()
	s.dmu.Lock()
	idle := s.idle
	s.dmu.Unlock()
	select {
	case <-idle:
		return nil
	case <-s.ctx.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Deliveries returns every delivery attempt so far (validation,
// notification, lifecycle), oldest first, as a copy.
func (s *Server) Deliveries() []Delivery {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return slices.Clone(s.deliveries)
}

// DropNextNotifications makes the next n notification POSTs (change or
// lifecycle; each POST may carry several items) vanish: they are logged
// with Dropped set and never sent, as Graph drops notifications of
// throttled endpoints
// (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks).
func (s *Server) DropNextNotifications(n int) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.dropN += max(n, 0)
}

// DropAllNotifications, while on, makes every notification POST (change
// or lifecycle) vanish like DropNextNotifications does, however many there
// are: Graph drops the notifications of an endpoint it flags as slow
// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks).
// Tests use it to lose every notification of some
// changes without counting them.
func (s *Server) DropAllNotifications(on bool) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.dropAll = on
}

// DuplicateNextNotifications makes the next n notification POSTs be sent
// twice (the copy is logged with Duplicate set), as Graph's retries can
// deliver a notification more than once.
func (s *Server) DuplicateNextNotifications(n int) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.dupN += max(n, 0)
}

// DelayNotifications makes every later notification POST wait d of real
// time before it is sent (0 turns it off). WaitIdle waits for delayed
// notifications too.
func (s *Server) DelayNotifications(d time.Duration) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.delay = max(d, 0)
}
