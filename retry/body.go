package retry

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// DefaultMaxReplayBody is the default of [Transport].MaxReplayBody: 1 MiB,
// far above any subscription or watch request, small enough to keep in
// memory per request.
const DefaultMaxReplayBody = 1 << 20

// replayable returns req, or a copy of it whose body can be sent again:
// a request with a body and no GetBody (msgraph-sdk-go sets
// req.Body = io.NopCloser(bytes.NewReader(...)) without GetBody) has its
// body read into memory when it is at most limit bytes, and gets a GetBody
// over the copy. A longer body is left as it is, with the bytes read so far
// put back in front, so the request is still sent whole, once. limit <= 0
// buffers nothing. It fails only if reading the body fails; the body is
// closed then.
func replayable(req *http.Request, limit int64) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil || limit <= 0 {
		return req, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("retry: read request body: %w", err)
	}
	r := new(http.Request)
	*r = *req
	if int64(len(buf)) > limit {
		r.Body = peekedBody{Reader: io.MultiReader(bytes.NewReader(buf), req.Body), Closer: req.Body}
		return r, nil
	}
	closeBody(req)
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	r.Body, _ = r.GetBody()
	r.ContentLength = int64(len(buf))
	if len(buf) == 0 {
		r.Body, r.GetBody = http.NoBody, nil
	}
	return r, nil
}
