package calsync

import (
	"context"
	"fmt"
	"time"

	"github.com/calsync/calsync/internal/alert"
)

// AlertKind names the condition an Alert reports.
type AlertKind string

// The alert kinds.
const (
	// AlertFailureRate: the share of failed notifications in the alert
	// window is above Config.Alerts.FailureRate.
	AlertFailureRate AlertKind = "failure_rate"
	// AlertLatency: the P95 of notification processing latency (arrival to
	// committed) in the window is above Config.Alerts.LatencyP95.
	AlertLatency AlertKind = "latency_p95"
	// AlertDeadLetters: notifications were moved to the dead letters in the
	// window.
	AlertDeadLetters AlertKind = "dead_letters"
	// AlertVolumeDrop: far fewer notifications arrived in the window than
	// in the one before (pushes may have stopped).
	AlertVolumeDrop AlertKind = "volume_drop"
	// AlertSubscriptionExpiring: a subscription expires within
	// Config.Alerts.ExpiryWithin and renewing it has not worked.
	AlertSubscriptionExpiring AlertKind = "subscription_expiring"
)

// Alert is a condition the host should look at, passed to Config.Alerts.OnAlert.
type Alert struct {
	// Kind is what is wrong.
	Kind AlertKind
	// Message describes it for a person.
	Message string
	// Value and Threshold are the measured value and the limit it crossed
	// (rates as fractions, latencies in seconds, counts).
	Value, Threshold float64
	// CalendarID and SubscriptionID name what it is about, when it is about
	// one calendar or subscription.
	CalendarID, SubscriptionID string
	// At is when it was raised.
	At time.Time
}

// AlertConfig sets when the Engine raises an [Alert] and who hears of it.
// Zero fields take the defaults named in their comments.
type AlertConfig struct {
	// OnAlert receives alerts: failure rate, P95 latency, dead letters,
	// notification volume drop, subscriptions about to expire. Default:
	// none (alerts are logged at Warn and counted in calsync.alerts).
	OnAlert func(ctx context.Context, a Alert)
	// Window is the sliding window the alert rates are computed over.
	// Default: DefaultAlertWindow.
	Window time.Duration
	// FailureRate is the share of failed notifications in the window above
	// which an alert fires. Default: DefaultAlertFailureRate (10 %).
	FailureRate float64
	// LatencyP95 is the P95 processing latency above which an alert fires.
	// Default: DefaultAlertLatencyP95 (10 s).
	LatencyP95 time.Duration
	// VolumeDrop: an alert fires when a window receives fewer than this
	// fraction of the notifications of the window before. Default:
	// DefaultAlertVolumeDrop.
	VolumeDrop float64
	// MinSamples is how many notifications a window needs before its rates
	// count. Default: DefaultAlertMinSamples.
	MinSamples int
	// ExpiryWithin: a subscription this close to expiry after a renewal
	// sweep raises an alert. Default: DefaultAlertExpiryWithin.
	ExpiryWithin time.Duration
}

// Defaults of AlertConfig.
const (
	// DefaultAlertWindow is the alerting window.
	DefaultAlertWindow = 10 * time.Minute
	// DefaultAlertFailureRate is the failure share that raises an alert.
	DefaultAlertFailureRate = 0.10
	// DefaultAlertLatencyP95 is the P95 latency that raises an alert.
	DefaultAlertLatencyP95 = 10 * time.Second
	// DefaultAlertVolumeDrop is the volume ratio below which an alert fires.
	DefaultAlertVolumeDrop = 0.2
	// DefaultAlertMinSamples is the minimum sample count of a window.
	DefaultAlertMinSamples = 20
	// DefaultAlertExpiryWithin is how close to expiry a subscription may be
	// after a renewal sweep before an alert fires.
	DefaultAlertExpiryWithin = 2 * time.Hour
)

func (c AlertConfig) withDefaults() AlertConfig {
	if c.Window <= 0 {
		c.Window = DefaultAlertWindow
	}
	if c.FailureRate <= 0 {
		c.FailureRate = DefaultAlertFailureRate
	}
	if c.LatencyP95 <= 0 {
		c.LatencyP95 = DefaultAlertLatencyP95
	}
	if c.VolumeDrop <= 0 {
		c.VolumeDrop = DefaultAlertVolumeDrop
	}
	if c.MinSamples <= 0 {
		c.MinSamples = DefaultAlertMinSamples
	}
	if c.ExpiryWithin <= 0 {
		c.ExpiryWithin = DefaultAlertExpiryWithin
	}
	return c
}

// monitorAlert turns a finding of the alert monitor into an Alert.
func monitorAlert(f alert.Finding, now time.Time, window time.Duration) Alert {
	a := Alert{Kind: AlertKind(f.Kind), Value: f.Value, Threshold: f.Threshold, At: now}
	switch f.Kind {
	case alert.FailureRate:
		a.Message = fmt.Sprintf("%.0f%% of notifications failed in the last %s (threshold %.0f%%)", f.Value*100, window, f.Threshold*100)
	case alert.LatencyP95:
		a.Message = fmt.Sprintf("P95 processing latency %.1fs in the last %s (threshold %.1fs)", f.Value, window, f.Threshold)
	case alert.DeadLetters:
		a.Message = fmt.Sprintf("%.0f notifications moved to dead letters in the last %s", f.Value, window)
	case alert.VolumeDrop:
		a.Message = fmt.Sprintf("notification volume fell to %.0f%% of the previous %s", f.Value*100, window)
	}
	return a
}
