// Package retry is the reliability layer under both provider clients:
// retries with exponential backoff, Retry-After, the classification of
// failures into transient and permanent, and client-side rate limits per
// account. It is built on github.com/cenkalti/backoff/v4 and
// golang.org/x/time/rate.
//
// # Retries
//
// [Transport] is an http.RoundTripper that retries what [Retriable] calls
// transient (429, 5xx, Google 403 rateLimitExceeded / userRateLimitExceeded,
// connection resets, timeouts) with the schedule of a [Policy]: 5 retries,
// from 1 s, doubling, +0–30 % jitter, unless the server's Retry-After
// (seconds, fractional seconds or an HTTP date, see [ParseRetryAfter]) says
// otherwise. It replays request bodies with GetBody, waits on the context,
// and never resends a non-idempotent request the server may have acted on.
//
// # Rate limits
//
// Rate limiting lives in this package, beside the retries, because the two
// share the account key ([WithAccount], which providers put on every
// request's context) and must be stacked in one order: [LimitTransport]
// under [Transport], so each attempt pays for a token and a retry's wait
// holds no concurrency slot. A [Limiter] per provider enforces [Limits] per
// account: [GoogleLimits] (600 requests a minute per user) and
// [GraphLimits] (4 concurrent requests and 10,000 per 10 minutes per
// mailbox).
//
//	limiter, err := retry.NewLimiter(retry.GoogleLimits(), nil)
//	...
//	p, err := google.New(google.Config{
//		TokenSource: tokens,
//		HTTPClient: &http.Client{Transport: retry.Transport{
//			Base:   &retry.LimitTransport{Limiter: limiter},
//			Logger: logger,
//		}},
//	})
//
// A Limiter counts within its process. [LimitTransport] takes any
// [AccountLimiter]; package retry/pglimit implements one on PostgreSQL
// that holds the same Limits across every instance sharing the database
// (google.Config.Limiter and msgraph.Config.Limiter put it under the
// default client).
//
// # Time
//
// Everything that waits goes through a [Clock] (default [SystemClock]);
// package retrytest has a fake that records the waits, so tests assert a
// 2.128 s wait without sleeping.
package retry
