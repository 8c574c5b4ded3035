package calsync

import (
	"context"
	"fmt"
	"regexp"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope name of calsync's spans.
const TracerName = MeterName

// The spans an Engine makes (Config.TracerProvider). Their attributes are
// ids, names and counts: never an OAuth token, a channel token, a
// clientState or a sync cursor; error messages are recorded with the query
// strings of any URL in them cut off.
const (
	// spanSync covers one sync of one calendar (Engine.Sync, a
	// notification's sync, a catch-up or safety-net sync).
	spanSync = "calsync.sync"
	// spanApply covers one Store.Apply: one page of a sync committed.
	spanApply = "calsync.store.apply"
	// spanProvider prefixes the span of one provider call the Engine
	// makes: calsync.provider.<operation>.
	spanProvider = "calsync.provider."
)

// The provider operations, as named in spans and in the
// calsync.provider.call.duration histogram.
const (
	opFetch             = "fetch"
	opWatch             = "watch"
	opStop              = "stop"
	opRenew             = "renew"
	opReauthorize       = "reauthorize"
	opCheckSubscription = "check_subscription"
	opListCalendars     = "list_calendars"
)

// Span attribute keys.
const (
	attrCalendar = attribute.Key("calsync.calendar.id")
	attrProvider = attribute.Key("calsync.provider")
	attrAccount  = attribute.Key("calsync.account.id")
	attrKind     = attribute.Key("calsync.sync.kind")
	attrPages    = attribute.Key("calsync.sync.pages")
	attrChanges  = attribute.Key("calsync.sync.changes")
	attrStale    = attribute.Key("calsync.sync.stale")
	attrResyncs  = attribute.Key("calsync.sync.resyncs")
	attrOp       = attribute.Key("calsync.provider.operation")
	attrBatch    = attribute.Key("calsync.apply.changes")
	attrSweep    = attribute.Key("calsync.apply.sweep")
)

// startProviderCall counts a provider call the Engine makes about cal
// (its Health.ProviderCalls) and starts its span, a child of ctx's. Call
// the returned function with the call's error when it returns; pass the
// returned context to the provider.
func (e *Engine) startProviderCall(ctx context.Context, op string, cal Calendar) (context.Context, func(error)) {
	e.obs.providerCall(cal.ID)
	return e.startCall(ctx, op, cal.Provider, attrCalendar.String(cal.ID))
}

// startCall starts the span of a provider call about no one calendar
// (ListCalendars, about an account) and returns the function that ends it.
func (e *Engine) startCall(ctx context.Context, op, providerName string, kv ...attribute.KeyValue) (context.Context, func(error)) {
	kv = append(kv, attrProvider.String(providerName), attrOp.String(op))
	ctx, span := e.obs.tracer.Start(ctx, spanProvider+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))
	start := e.cfg.Now()
	return ctx, func(err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		e.obs.callDuration.Record(context.WithoutCancel(ctx), e.cfg.Now().Sub(start).Seconds(), metric.WithAttributes(
			attribute.String("provider", providerName), attribute.String("operation", op), attribute.String("outcome", outcome)))
		endSpan(span, err)
	}
}

// startSync starts the span of one sync of cal; endSync ends it.
func (e *Engine) startSync(ctx context.Context, cal Calendar) (context.Context, trace.Span) {
	return e.obs.tracer.Start(ctx, spanSync, trace.WithAttributes(
		attrCalendar.String(cal.ID), attrProvider.String(cal.Provider), attrAccount.String(cal.AccountID)))
}

// endSync ends a sync's span with what the sync did.
func endSync(span trace.Span, res SyncResult, err error) {
	kind := "incremental"
	if res.Full {
		kind = "full"
	}
	span.SetAttributes(attrKind.String(kind), attrPages.Int(res.Pages), attrChanges.Int(res.Applied),
		attrStale.Int(res.Stale), attrResyncs.Int(res.Resyncs))
	endSpan(span, err)
}

// apply is Store.Apply in its own span, timed in
// calsync.store.apply.duration.
func (e *Engine) apply(ctx context.Context, cal Calendar, b *Batch) (*ApplyResult, error) {
	ctx, span := e.obs.tracer.Start(ctx, spanApply, trace.WithAttributes(
		attrCalendar.String(cal.ID), attrBatch.Int(len(b.Changes)), attrSweep.Bool(b.Sweep)))
	start := e.cfg.Now()
	ar, err := e.cfg.Store.Apply(ctx, cal.ID, b)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	} else if ar != nil {
		span.SetAttributes(attrChanges.Int(len(ar.Applied)), attrStale.Int(ar.Stale))
	}
	e.obs.applyDur.Record(context.WithoutCancel(ctx), e.cfg.Now().Sub(start).Seconds(), attrs("outcome", outcome))
	endSpan(span, err)
	return ar, err
}

// endSpan records err (if any) on span, sets its status and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		msg := redactURLs(err.Error())
		// As RecordError would, with the message redacted.
		span.AddEvent("exception", trace.WithAttributes(
			attribute.String("exception.type", fmt.Sprintf("%T", err)),
			attribute.String("exception.message", msg)))
		span.SetStatus(codes.Error, msg)
	} else {
		span.SetStatus(codes.Ok, "")
	}
	span.End()
}

// urlQuery matches the query string (and fragment) of a URL in a message.
var urlQuery = regexp.MustCompile(`(https?://[^\s"'?#]*)[?#][^\s"']*`)

// redactURLs cuts the query strings off the URLs in an error message: an
// HTTP client's error quotes the URL it called, whose query may carry a
// sync or page token (or, with some APIs, an access token).
func redactURLs(msg string) string {
	return urlQuery.ReplaceAllString(msg, "$1?…")
}
