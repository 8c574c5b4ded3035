package calsync

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// InstrumentTransport returns an http.RoundTripper that counts the calls it
// carries in the calsync.provider.calls counter, by provider and HTTP status
// ("error" when there was no response). Put it in a provider's
// Config.HTTPClient, under the retry transport to count every attempt or
// above it to count logical calls. A nil base means http.DefaultTransport; a
// nil mp means no metrics.
func InstrumentTransport(base http.RoundTripper, mp metric.MeterProvider, providerName string) (http.RoundTripper, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	calls, err := mp.Meter(MeterName).Int64Counter("calsync.provider.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Provider API calls, by provider and HTTP status."))
	if err != nil {
		return nil, err
	}
	return &countingTransport{base: base, calls: calls, provider: providerName}, nil
}

type countingTransport struct {
	base     http.RoundTripper
	calls    metric.Int64Counter
	provider string
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.calls.Add(r.Context(), 1, metric.WithAttributes(attribute.String("provider", t.provider), attribute.String("status", status)))
	return resp, err
}
