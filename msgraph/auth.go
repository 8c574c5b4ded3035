package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/microsoft/kiota-abstractions-go/authentication"
	"golang.org/x/oauth2"

	"github.com/calsync/calsync/retry"
)

// accountKey carries the calendar's account id from a Provider method to the
// SDK's authentication provider, through the call's context.
type accountKey struct{}

// withAccount also keys retry.LimitTransport's per-account limits.
func withAccount(ctx context.Context, accountID string) context.Context {
	return retry.WithAccount(context.WithValue(ctx, accountKey{}, accountID), accountID)
}

// tokenProvider is a kiota AccessTokenProvider over the host's oauth2 token
// sources: no azcore, no MSAL. The account is taken from the request's
// context, so one SDK client serves every account.
type tokenProvider struct {
	source TokenSourceFunc
	host   string
	hosts  *authentication.AllowedHostsValidator
}

var _ authentication.AccessTokenProvider = (*tokenProvider)(nil)

func newAuthProvider(source TokenSourceFunc, host string) (*authentication.BaseBearerTokenAuthenticationProvider, error) {
	hosts, err := authentication.NewAllowedHostsValidatorErrorCheck([]string{host})
	if err != nil {
		return nil, fmt.Errorf("msgraph: host %q: %w", host, err)
	}
	return authentication.NewBaseBearerTokenAuthenticationProvider(&tokenProvider{source: source, host: host, hosts: hosts}), nil
}

// errNoAccount is a programming error: a Provider method called the SDK
// without withAccount.
var errNoAccount = errors.New("msgraph: no account in the request context")

// GetAuthorizationToken returns the account's access token for u, which must
// be on the configured service's host.
func (t *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if u == nil || !strings.EqualFold(u.Hostname(), t.host) {
		return "", fmt.Errorf("msgraph: refusing to send a token to a host other than %s", t.host)
	}
	account, ok := ctx.Value(accountKey{}).(string)
	if !ok {
		return "", errNoAccount
	}
	ts, err := t.source(ctx, account)
	if err != nil {
		return "", fmt.Errorf("msgraph: token source for account %s: %w", account, err)
	}
	tok, err := ts.Token()
	if err != nil {
		return "", tokenError{err}
	}
	return tok.AccessToken, nil
}

// GetAllowedHostsValidator returns the validator of the configured host.
func (t *tokenProvider) GetAllowedHostsValidator() *authentication.AllowedHostsValidator {
	return t.hosts
}

// tokenError marks an error of the token source, so that apiError can tell
// it from an API error. Its text is the source's, which for
// *oauth2.RetrieveError may echo the token endpoint's body: apiError keeps
// only the error code of those.
type tokenError struct{ err error }

func (e tokenError) Error() string { return "msgraph: access token: " + e.err.Error() }
func (e tokenError) Unwrap() error { return e.err }

// retrieveError returns the token endpoint's refusal inside err, if any.
func retrieveError(err error) (*oauth2.RetrieveError, bool) {
	return errors.AsType[*oauth2.RetrieveError](err)
}
