// Package webhook provides the http.Handlers that receive the calendar
// providers' push notifications and hand them to a calsync Engine.
//
// A handler authenticates a notification, queues it through a [Sink]
// (usually the [*calsync.Engine]) and answers within milliseconds. It never
// calls the provider inside the request: providers send no event data, so
// an Engine worker fetches the changes afterwards with the stored cursor.
//
// # Google
//
// [Google] (made by [NewGoogle] from a [GoogleConfig]) receives Google
// Calendar push notifications: the address given to events.watch. Google
// sends an empty POST whose X-Goog-* headers name the channel; the handler
// looks the channel up, compares X-Goog-Channel-Token with the
// subscription's secret in constant time and checks X-Goog-Resource-Id and
// the expiry. See [Google] for every status it answers. The status codes
// matter to Google: it redelivers only after 500, 502, 503 or 504, so the
// handler answers 503 when the Store or the Queue is unavailable and 4xx
// when redelivering would not help.
//
// # Mounting
//
// The handlers are plain [http.Handler]s and work under any router:
//
//	engine, err := calsync.NewEngine(calsync.Config{ /* Store, Providers … */ })
//	if err != nil {
//		log.Fatal(err)
//	}
//	google, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine, Logger: slog.Default()})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := http.NewServeMux()
//	mux.Handle("POST /hooks/google", google)
//	go engine.Run(ctx)
//	log.Fatal(http.ListenAndServeTLS(":443", "cert.pem", "key.pem", mux))
//
// and connect calendars with the handler's public HTTPS URL as
// calsync.ConnectRequest.Address. (Without the method in the pattern the
// handler itself answers other methods with 405.)
//
// # Security
//
// Bodies are capped ([DefaultMaxBodyBytes] unless configured). Unknown
// channels get 404, forged ones 403, expired ones 410. Logs carry channel,
// subscription and calendar ids only, never a channel token or a secret,
// and error answers never echo request values.
package webhook
