package googletest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"net/url"
	"sort"
)

// Sync and page tokens are opaque to clients: URL-safe base64 of a small
// binary record with an integrity check, so garbage is told apart from a
// token that merely expired.

// tokenKey only protects tokens against corruption and guessing; it is not a
// secret.
var tokenKey = []byte("github.com/calsync/calsync/google/googletest tokens v1")

const (
	tokenSync byte = 'S'
	tokenPage byte = 'P'
	macLen         = 8
)

// syncToken is the state a nextSyncToken carries.
type syncToken struct {
	instance uint64 // the Server that issued it
	calendar string
	epoch    uint32
	seq      uint64
	single   bool
}

// pageToken is the state a nextPageToken carries.
type pageToken struct {
	instance    uint64
	calendar    string
	epoch       uint32
	incremental bool
	since       uint64 // incremental: sequence of the syncToken
	snapshot    uint64 // sequence when the listing started
	query       uint64 // fingerprint of the query parameters
	after       string // ordering key of the last item returned
}

type tokenWriter []byte

func (w *tokenWriter) u(v uint64)   { *w = binary.AppendUvarint(*w, v) }
func (w *tokenWriter) s(v string)   { w.u(uint64(len(v))); *w = append(*w, v...) }
func (w *tokenWriter) b(v bool)     { w.u(map[bool]uint64{false: 0, true: 1}[v]) }
func (w *tokenWriter) u64(v uint64) { *w = binary.BigEndian.AppendUint64(*w, v) }

type tokenReader struct {
	buf []byte
	err bool
}

func (r *tokenReader) u() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *tokenReader) s() string {
	n := r.u()
	if r.err || n > uint64(len(r.buf)) {
		r.err = true
		return ""
	}
	v := string(r.buf[:n])
	r.buf = r.buf[n:]
	return v
}

func (r *tokenReader) b() bool { return r.u() == 1 }

func (r *tokenReader) u64() uint64 {
	if len(r.buf) < 8 {
		r.err = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.buf)
	r.buf = r.buf[8:]
	return v
}

func seal(kind byte, payload []byte) string {
	msg := append([]byte{kind}, payload...)
	m := hmac.New(sha256.New, tokenKey)
	m.Write(msg)
	msg = append(msg, m.Sum(nil)[:macLen]...)
	return base64.URLEncoding.EncodeToString(msg)
}

var errBadToken = errors.New("bad token")

func unseal(kind byte, s string) (*tokenReader, error) {
	msg, err := base64.URLEncoding.DecodeString(s)
	if err != nil || len(msg) < 1+macLen || msg[0] != kind {
		return nil, errBadToken
	}
	body, mac := msg[:len(msg)-macLen], msg[len(msg)-macLen:]
	m := hmac.New(sha256.New, tokenKey)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:macLen]) {
		return nil, errBadToken
	}
	return &tokenReader{buf: body[1:]}, nil
}

func (t syncToken) encode() string {
	var w tokenWriter
	w.u64(t.instance)
	w.s(t.calendar)
	w.u(uint64(t.epoch))
	w.u(t.seq)
	w.b(t.single)
	return seal(tokenSync, w)
}

func decodeSyncToken(s string) (syncToken, error) {
	r, err := unseal(tokenSync, s)
	if err != nil {
		return syncToken{}, err
	}
	t := syncToken{instance: r.u64(), calendar: r.s(), epoch: uint32(r.u()), seq: r.u(), single: r.b()}
	if r.err || len(r.buf) != 0 {
		return syncToken{}, errBadToken
	}
	return t, nil
}

func (t pageToken) encode() string {
	var w tokenWriter
	w.u64(t.instance)
	w.s(t.calendar)
	w.u(uint64(t.epoch))
	w.b(t.incremental)
	w.u(t.since)
	w.u(t.snapshot)
	w.u64(t.query)
	w.s(t.after)
	return seal(tokenPage, w)
}

func decodePageToken(s string) (pageToken, error) {
	r, err := unseal(tokenPage, s)
	if err != nil {
		return pageToken{}, err
	}
	t := pageToken{
		instance: r.u64(), calendar: r.s(), epoch: uint32(r.u()), incremental: r.b(),
		since: r.u(), snapshot: r.u(), query: r.u64(), after: r.s(),
	}
	if r.err || len(r.buf) != 0 {
		return pageToken{}, errBadToken
	}
	return t, nil
}

// standardParams are the system parameters every Google API accepts; they do
// not change what a list returns.
var standardParams = map[string]bool{
	"alt": true, "prettyPrint": true, "fields": true, "key": true, "quotaUser": true,
	"userIp": true, "oauth_token": true, "access_token": true, "callback": true,
	"$.xgafv": true, "upload_protocol": true, "uploadType": true,
	"pageToken": true, "maxResults": true,
}

// queryFingerprint identifies a list query so that a page token is only
// accepted with the query that produced it: Google's sync guide says to
// repeat the exact same query plus pageToken
// (https://developers.google.com/workspace/calendar/api/guides/sync).
func queryFingerprint(calendarID string, q url.Values) uint64 {
	keys := make([]string, 0, len(q))
	for k := range q {
		if !standardParams[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := fnv.New64a()
	h.Write([]byte(calendarID))
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			h.Write([]byte{0})
			h.Write([]byte(k))
			h.Write([]byte{1})
			h.Write([]byte(v))
		}
	}
	return h.Sum64()
}
