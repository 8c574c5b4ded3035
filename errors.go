package calsync

import (
	"errors"

	"github.com/calsync/calsync/provider"
)

// Sentinel errors to branch on with errors.Is.
var (
	// ErrNotFound means the calendar, event or subscription does not exist.
	ErrNotFound = provider.ErrNotFound
	// ErrFullSyncRequired means a cursor expired (HTTP 410); the Engine
	// handles it by resyncing.
	ErrFullSyncRequired = provider.ErrFullSyncRequired
	// ErrSubscriptionGone means the provider no longer has a subscription.
	ErrSubscriptionGone = provider.ErrSubscriptionGone
	// ErrReauthRequired means an account's OAuth grant is no longer valid and
	// its owner must sign in again.
	ErrReauthRequired = provider.ErrReauthRequired
	// ErrCalendarUnavailable means the provider refuses one calendar for
	// good (deleted, or access lost); the Engine stops syncing it until the
	// host reconnects or disconnects it.
	ErrCalendarUnavailable = provider.ErrCalendarUnavailable
	// ErrConflict means a Store.Apply whose Batch.Expect did not match the
	// stored SyncState: another sync of the calendar (another instance of
	// the host app) moved it on. Nothing was applied.
	ErrConflict = errors.New("calsync: sync state changed concurrently")
	// ErrQueueFull means the Queue cannot take another notification now.
	ErrQueueFull = errors.New("calsync: queue full")
	// ErrAlreadyQueued is what a Queue's Enqueue returns when it did not
	// queue the notification because one that does the same work (a sync
	// of the same calendar) is still waiting in the queue. The Engine
	// counts it as handled and answers the provider with success.
	ErrAlreadyQueued = errors.New("calsync: a sync of the calendar is already queued")
	// ErrUnknownProvider means no Provider with that name is configured.
	ErrUnknownProvider = errors.New("calsync: unknown provider")
)
