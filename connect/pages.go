package connect

import (
	"errors"
	"html/template"
	"net/http"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}li{margin:.2rem 0}.muted{color:#666}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Calendars}}<ul>{{range .Calendars}}<li>{{.Name}}{{if .Primary}} <span class="muted">(primary)</span>{{end}}</li>{{end}}</ul>{{end}}
</body></html>
`))

type page struct {
	Title, Message string
	Calendars      []struct {
		Name    string
		Primary bool
	}
}

func writePage(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

// defaultDone is Config.Done's default: the calendars found.
func defaultDone(w http.ResponseWriter, _ *http.Request, res Result) {
	p := page{Title: "Calendar access granted", Message: "These calendars were found in your account:"}
	if res.Reconnected {
		p.Title, p.Message = "Account reconnected", "Your calendars sync again. They are:"
	}
	for _, c := range res.Calendars {
		p.Calendars = append(p.Calendars, struct {
			Name    string
			Primary bool
		}{c.Name, c.Primary})
	}
	writePage(w, http.StatusOK, p)
}

// UserMessage returns what to tell the end user about a failed flow, and
// the HTTP status to answer with: the text of the default Failed page.
func UserMessage(err error) (status int, title, message string) {
	switch {
	case errors.Is(err, ErrDenied):
		return http.StatusForbidden, "Access not granted", "You declined access to your calendar, so nothing was connected. You can start again whenever you like."
	case errors.Is(err, ErrBadState):
		return http.StatusBadRequest, "This link has expired", "This sign-in link has expired, was already used, or belongs to another session. Please start again from the app."
	case errors.Is(err, ErrExchange):
		return http.StatusBadGateway, "Could not finish connecting", "The calendar provider did not complete the sign-in. Please try again in a moment."
	case errors.Is(err, ErrUnknownProvider):
		return http.StatusBadRequest, "Unknown calendar provider", "This app cannot connect calendars of that provider."
	case errors.Is(err, ErrNoUser):
		return http.StatusUnauthorized, "Please sign in", "Sign in to the app first, then connect your calendar."
	}
	return http.StatusInternalServerError, "Something went wrong", "Your calendar could not be connected. Please try again later."
}

// defaultFailed is Config.Failed's default.
func defaultFailed(w http.ResponseWriter, _ *http.Request, err error) {
	status, title, msg := UserMessage(err)
	writePage(w, status, page{Title: title, Message: msg})
}
