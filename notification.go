package calsync

import (
	"fmt"
	"time"
)

// NotificationKind says what a notification asks the Engine to do.
type NotificationKind uint8

// The notification kinds.
const (
	// Changed: something in the calendar changed; run an incremental sync.
	Changed NotificationKind = iota + 1
	// Resync: notifications may have been missed; run an incremental sync
	// (and a full one if the cursor has expired).
	Resync
	// SubscriptionRemoved: the provider removed the subscription; recreate
	// it and resync.
	SubscriptionRemoved
	// ReauthorizationRequired: the provider asks for the subscription to be
	// reauthorized (renewed) before it is removed.
	ReauthorizationRequired
)

// String returns the kind's name.
func (k NotificationKind) String() string {
	switch k {
	case Changed:
		return "changed"
	case Resync:
		return "resync"
	case SubscriptionRemoved:
		return "subscriptionRemoved"
	case ReauthorizationRequired:
		return "reauthorizationRequired"
	}
	return fmt.Sprintf("NotificationKind(%d)", uint8(k))
}

// Notification is an authenticated provider notification, queued by a
// webhook handler for an Engine worker. It carries no event data: providers
// do not send any, so a worker fetches the changes with the stored cursor.
type Notification struct {
	// Kind is what to do.
	Kind NotificationKind
	// Provider is the provider's name.
	Provider string
	// SubscriptionID is the channel or subscription id.
	SubscriptionID string
	// CalendarID is the calsync calendar the subscription feeds.
	CalendarID string
	// MessageID identifies the provider's message, not its arrival (Google:
	// channel id and X-Goog-Message-Number), so redeliveries are recognised.
	MessageID string
	// Received is when the handler accepted the notification.
	Received time.Time
}

// SyncKey is the same for notifications that ask for the same work: a sync
// of one calendar (Changed and Resync). A Queue may keep one of them
// waiting and refuse the others with ErrAlreadyQueued. Lifecycle
// notifications ask for more than a sync; their key is empty, and they are
// always queued.
func (n Notification) SyncKey() string {
	k := keyOf(n)
	if k == (syncKey{}) {
		return ""
	}
	return k.provider + "|" + k.calendar
}
