package calsync

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Queue carries notifications from webhook handlers to Engine workers.
//
// Enqueue must not block for long: handlers call it while the provider waits
// for an answer. It returns an error (ErrQueueFull, or the queue's own) when
// the notification cannot be queued; the handler then answers 503 so that
// the provider redelivers. It may return ErrAlreadyQueued instead of
// queueing a notification that asks for a sync of a calendar whose sync is
// already waiting in the queue (see [Notification.SyncKey]): a burst of
// notifications then costs one sync, not one each. Dequeue blocks until a
// notification is available or ctx is done. Implementations must be safe
// for concurrent use.
type Queue interface {
	Enqueue(ctx context.Context, n Notification) error
	Dequeue(ctx context.Context) (Notification, error)
}

// QueueDepth is implemented by a Queue that can tell how many
// notifications wait in it (queued, not yet dequeued). An Engine whose
// Queue implements it reports the number in the calsync.queue.depth gauge
// and uses it in its readiness check ([Engine.ReadinessHandler]); for
// another Queue the readiness check counts what this Engine enqueued and
// its workers have not taken. Depth should be cheap (a metrics scrape
// calls it) and may be approximate; it returns an error when the queue
// cannot be read.
type QueueDepth interface {
	Depth(ctx context.Context) (int, error)
}

// DefaultQueueCapacity is the capacity of the queue NewMemoryQueue makes when
// given a capacity of zero or less.
const DefaultQueueCapacity = 10000

// MemoryQueueConfig configures a MemoryQueue.
type MemoryQueueConfig struct {
	// Capacity is how many notifications the queue holds; a full queue
	// refuses more with ErrQueueFull. Default: DefaultQueueCapacity.
	Capacity int
	// Debounce holds a waiting sync of a calendar until no notification
	// for it has arrived for this long, so that a burst (Google sends one
	// to three pushes per change, Graph created + updated, a batch of a
	// thousand changes trickles in over a second or two) costs one sync
	// rather than one per notification reaching an idle worker. Zero or
	// negative: no wait. Lifecycle notifications never wait.
	Debounce time.Duration
	// MaxDebounce bounds the wait of a sync whose calendar keeps receiving
	// notifications, counted from the first. Default: 10 × Debounce.
	MaxDebounce time.Duration
}

// MemoryQueue is the in-process Queue: a bounded buffer, the Engine's
// default. Notifications in it are lost if the process dies; that is safe
// because the providers redeliver unacknowledged ones and the Engine's
// catch-up sync recovers the rest.
//
// It keeps at most one waiting sync per calendar: a notification whose
// SyncKey is already waiting is refused with ErrAlreadyQueued (and, with
// a Debounce, pushes the waiting one's time back). Once a worker has taken
// it, the next one queues again (and is folded into the running sync,
// which then runs once more).
type MemoryQueue struct {
	cfg    MemoryQueueConfig
	now    func() time.Time // time.Now; tests replace it
	wake   chan struct{}    // a notification became available, or may have
	mu     sync.Mutex
	seq    uint64
	ready  readyHeap               // every queued item, by when it may go
	byKey  map[syncKey]*queuedItem // waiting syncs, by calendar
	length int
}

// syncKey is Notification.SyncKey without building a string on every
// Enqueue (the webhook's ack path); the zero key is no key.
type syncKey struct{ provider, calendar string }

func keyOf(n Notification) syncKey {
	if n.Kind != Changed && n.Kind != Resync {
		return syncKey{}
	}
	return syncKey{n.Provider, n.CalendarID}
}

type queuedItem struct {
	n           Notification
	key         syncKey
	seq         uint64 // arrival order, to keep FIFO among ready items
	first, last time.Time
	readyAt     time.Time
	index       int
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns a MemoryQueue holding up to capacity notifications
// (DefaultQueueCapacity if capacity <= 0), without debounce.
func NewMemoryQueue(capacity int) *MemoryQueue {
	return NewMemoryQueueWith(MemoryQueueConfig{Capacity: capacity})
}

// NewMemoryQueueWith returns a MemoryQueue configured by cfg.
func NewMemoryQueueWith(cfg MemoryQueueConfig) *MemoryQueue {
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultQueueCapacity
	}
	if cfg.Debounce < 0 {
		cfg.Debounce = 0
	}
	if cfg.MaxDebounce <= 0 {
		cfg.MaxDebounce = 10 * cfg.Debounce
	}
	return &MemoryQueue{cfg: cfg, now: time.Now, wake: make(chan struct{}, 1), byKey: make(map[syncKey]*queuedItem)}
}

// readyAt is when it may be dequeued: quiet for Debounce, or MaxDebounce
// after the first notification.
func (q *MemoryQueue) readyAt(it *queuedItem) time.Time {
	if it.key == (syncKey{}) || q.cfg.Debounce == 0 {
		return it.first
	}
	return minTime(it.last.Add(q.cfg.Debounce), it.first.Add(q.cfg.MaxDebounce))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Enqueue adds n, or returns ErrAlreadyQueued if a sync of its calendar is
// already waiting, or ErrQueueFull at once if the queue is full.
func (q *MemoryQueue) Enqueue(ctx context.Context, n Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := q.now()
	key := keyOf(n)
	q.mu.Lock()
	defer q.mu.Unlock()
	if it := q.byKey[key]; key != (syncKey{}) && it != nil {
		// Its place in the heap is fixed up when it comes to the top.
		it.last = now
		return ErrAlreadyQueued
	}
	if q.length >= q.cfg.Capacity {
		return ErrQueueFull
	}
	q.seq++
	it := &queuedItem{n: n, key: key, seq: q.seq, first: now, last: now}
	it.readyAt = q.readyAt(it)
	heap.Push(&q.ready, it)
	if key != (syncKey{}) {
		q.byKey[key] = it
	}
	q.length++
	q.signal()
	return nil
}

// signal wakes a waiting Dequeue; q.mu is held.
func (q *MemoryQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Dequeue removes the oldest notification that is ready (see
// MemoryQueueConfig.Debounce), waiting for one until ctx is done.
func (q *MemoryQueue) Dequeue(ctx context.Context) (Notification, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		n, wait, ok := q.take(q.now())
		if ok {
			return n, nil
		}
		var tc <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-q.wake:
		case <-tc:
		case <-ctx.Done():
			return Notification{}, ctx.Err()
		}
	}
}

// take pops the first ready notification; otherwise it reports how long
// until the next one is ready (0: none queued).
func (q *MemoryQueue) take(now time.Time) (Notification, time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.ready.Len() > 0 {
		it := q.ready[0]
		if at := q.readyAt(it); at.After(it.readyAt) {
			// Notifications arrived meanwhile: it waits longer.
			it.readyAt = at
			heap.Fix(&q.ready, 0)
			continue
		}
		if it.readyAt.After(now) {
			return Notification{}, it.readyAt.Sub(now), false
		}
		heap.Pop(&q.ready)
		if it.key != (syncKey{}) {
			delete(q.byKey, it.key)
		}
		q.length--
		if q.length > 0 {
			q.signal() // let another worker look
		}
		return it.n, 0, true
	}
	return Notification{}, 0, false
}

// Len returns the number of queued notifications.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.length
}

// Depth returns the number of queued notifications; it implements
// [QueueDepth] and never fails.
func (q *MemoryQueue) Depth(context.Context) (int, error) { return q.Len(), nil }

// readyHeap orders queued items by readiness, then arrival.
type readyHeap []*queuedItem

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	if !h[i].readyAt.Equal(h[j].readyAt) {
		return h[i].readyAt.Before(h[j].readyAt)
	}
	return h[i].seq < h[j].seq
}
func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *readyHeap) Push(x any) {
	it := x.(*queuedItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *readyHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
