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
// # Change feed
//
// A Store that implements [ChangeFeed] (all of calsync's do) also writes
// every committed change to a durable feed, in the same transaction, under
// a sequence number that follows commit order across the whole Store. The
// Engine then delivers OnChange from the feed, at least once: a consumer
// in Run reads after its stored position (Config.FeedConsumer), calls
// OnChange for each calendar's run of changes in order, and acknowledges
// the new position, so that a process killed between a commit and the
// callback delivers the changes when it runs again. Hosts may also read
// the feed themselves with [Engine.ChangesSince]. [SweepPruneFeed] deletes
// what every consumer has acknowledged, and what is older than
// Config.FeedRetention.
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
// # Accounts
//
// A calendar belongs to an account: one OAuth grant at one provider
// (Calendar.AccountID). Package connect runs the OAuth flow that creates
// it, and package vault keeps and refreshes its token. With a Store that
// implements [AccountStore] (all of calsync's do) the Engine keeps each
// account's [AccountStatus]: when the provider refuses the grant, the
// account turns [AccountNeedsReauth] once (Config.OnAccountStatus) and
// every calendar of it is parked, making no provider call at all, until
// the user completes the connect flow again ([Engine.ResumeAccount]);
// then each calendar resumes from its cursor. [Engine.ListCalendars]
// lists an account's calendars, and [SweepDiscover] reports calendars
// added or removed later (Config.OnCalendarsChanged).
//
// # Periodic work
//
// Besides its workers, Run schedules a fixed set of sweeps (see [Sweep]):
// catch-up at start (paced by Config.CatchUpRate, and never ahead of the
// first renewal), renewal, retries of failed notifications, the safety
// net for calendars whose pushes stopped, pruning of the ledger and of the
// change feed, and calendar discovery. A host with
// its own scheduler sets Config.ManualSweeps and runs each with
// [Engine.RunSweep].
//
// # Observability and shutdown
//
// By default an Engine logs to slog.Default(), and sends its metrics and
// spans to the OpenTelemetry global MeterProvider and TracerProvider
// (Config.Logger, Config.MeterProvider, Config.TracerProvider); the
// README lists every metric. [Engine.ReadinessHandler] is a readiness
// probe for the host's server. When Run's context ends, the syncs under
// way finish (up to Config.DrainTimeout) before Run returns, and what the
// shutdown cuts short is not reported as a failure.
package calsync
