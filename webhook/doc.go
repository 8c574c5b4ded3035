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
// looks the channel up, checks X-Goog-Channel-Token against the
// subscription's SecretHash in constant time and checks X-Goog-Resource-Id and
// the expiry. See [Google] for every status it answers. The status codes
// matter to Google: it redelivers only after 500, 502, 503 or 504, so the
// handler answers 503 when the Store or the Queue is unavailable and 4xx
// when redelivering would not help.
//
// # Microsoft Graph
//
// [Graph] (made by [NewGraph] from a [GraphConfig]) receives Microsoft Graph
// change notifications and lifecycle notifications. One handler serves
// both: mount it at the notificationUrl and at the lifecycleNotificationUrl
// (or give one URL as both); each item of a batch says which it is
// (changeType or lifecycleEvent). It answers Graph's validation handshake
// (?validationToken=…: 200 text/plain with the decoded token), then checks
// every item of the {"value":[…]} batch on its own: it looks the
// subscription up, checks clientState against the subscription's
// SecretHash in constant time, and queues a [calsync.Changed] notification for a change,
// [calsync.ReauthorizationRequired], [calsync.SubscriptionRemoved] or
// [calsync.Resync] for the lifecycle events reauthorizationRequired,
// subscriptionRemoved and missed. The answer is 202 at once.
//
// Graph redelivers any batch not answered 2xx within 3 seconds, for up to
// four hours, and throttles, then drops, the notifications of an endpoint
// that often fails. So the handler answers 503 only when retrying can help
// (the Store or the Queue is unavailable; the items already queued come
// again with the same MessageID — subscription, change type, resource and
// etag — and are recognised), and 202 for a batch whose subscriptions are
// all unknown rather than 404: those are subscriptions this application
// has forgotten (a disconnected calendar, a replaced subscription) but
// Graph still delivers for until they expire, and a 404 would only make
// Graph retry them and count the endpoint as failing. A batch whose items
// are all forged gets 403; forged items inside a batch with genuine ones
// are dropped and logged. Unlike Google's, one batch mixes several
// subscriptions, so per-item 404 and 410 answers do not exist: unknown,
// foreign and expired items are dropped.
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
//	graph, err := webhook.NewGraph(webhook.GraphConfig{Sink: engine, Logger: slog.Default()})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("POST /hooks/graph", graph)           // notificationUrl
//	mux.Handle("POST /hooks/graph-lifecycle", graph) // lifecycleNotificationUrl
//	go engine.Run(ctx)
//	srv := &http.Server{
//		Addr:              ":443",
//		Handler:           mux,
//		ReadHeaderTimeout: 5 * time.Second,
//		ReadTimeout:       10 * time.Second,
//		IdleTimeout:       2 * time.Minute,
//	}
//	log.Fatal(srv.ListenAndServeTLS("cert.pem", "key.pem"))
//
// and connect calendars with the handler's public HTTPS URL as
// calsync.ConnectRequest.Address (for Graph, the lifecycle URL as
// LifecycleAddress). (Without the method in the pattern the
// handler itself answers other methods with 405.)
//
// # Security
//
// Bodies are capped ([DefaultMaxBodyBytes] for Google and
// [DefaultGraphMaxBodyBytes] for Graph batches, unless configured) and must
// arrive within ReadTimeout ([DefaultReadTimeout] unless configured; 408
// otherwise), so a sender that announces more than it sends cannot hold a
// handler. The http.Server still needs its own ReadHeaderTimeout,
// ReadTimeout and IdleTimeout (as above) for what happens before and
// between requests. Graph's
// validationToken is echoed only as text/plain with
// X-Content-Type-Options: nosniff and at most [MaxValidationTokenLength]
// bytes. Google notifications on unknown channels get 404, forged ones
// 403, expired ones 410 (Graph: see above). Ids and secrets longer than
// [MaxIDLength] are refused with 400 before they are looked up. Logs carry
// channel, subscription and calendar ids only, never a channel token or a
// secret, and of an id that matched no subscription (the sender's choice)
// only a short prefix; a Graph batch logs its first few dropped or forged
// items and then only counts them. Error answers never echo request
// values.
package webhook
