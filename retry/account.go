package retry

import "context"

type accountKey struct{}

// WithAccount returns a copy of ctx that names the account (the host's
// user, calsync's Calendar.AccountID) a request is made for. [LimitTransport]
// keys its limits on it and [Transport] logs it. Providers call it in every
// method that reaches the network.
func WithAccount(ctx context.Context, accountID string) context.Context {
	return context.WithValue(ctx, accountKey{}, accountID)
}

// Account returns the account id set by [WithAccount], and whether one was
// set.
func Account(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(accountKey{}).(string)
	return id, ok
}
