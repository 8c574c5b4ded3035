// Package calsync keeps a host application's copy of its users' Google and
// Microsoft (Outlook) calendars in sync in near real time, driven by the
// providers' push notifications.
//
// # Shape
//
// An [Engine] wires a [Store] (where events, cursors and subscriptions
// live), one or more [Provider]s (package google, package msgraph), and a
// [Queue] that carries notifications from the webhook handlers (package
// webhook) to worker goroutines:
//
//	provider → webhook handler → Queue → Engine worker → Provider.Fetch → Store.Apply → OnChange
//
// The handlers authenticate and queue; they never call a provider inside the
// request. A worker fetches the changes with the stored cursor and commits
// each page to the Store in one transaction together with the new cursor,
// then hands the committed changes to Config.OnChange.
//
// # Syncs
//
// [Engine.Connect] creates the subscription and runs the initial full sync.
// Each notification leads to an incremental sync; syncs of one calendar
// never overlap, and notifications that arrive during a sync cause exactly
// one follow-up. When a provider says a cursor has expired (HTTP 410) the
// Engine runs a full sync that also deletes local events the provider no
// longer has (see [Batch]). A full sync interrupted by a crash resumes from
// its last committed page.
//
// # Renewal
//
// The renewal sweep ([SweepRenew], run periodically by [Engine.Run])
// renews subscriptions that are about to expire, in place where the
// provider can (Graph), otherwise by creating the new one first and
// stopping the old one afterwards, so there is no gap.
//
// # Periodic work
//
// Besides its workers, Run schedules a fixed set of sweeps (see [Sweep]):
// catch-up at start, renewal, retries of failed notifications, the safety
// net for calendars whose pushes stopped, and ledger pruning. A host with
// its own scheduler sets Config.ManualSweeps and runs each with
// [Engine.RunSweep].
package calsync
