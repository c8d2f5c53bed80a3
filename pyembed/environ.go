package pyembed

/*
#include "bridge.h"
*/
import "C"

import (
	"encoding/binary"
	"strconv"
)

// Key names an environ key that C has interned. KeyNone means the entry
// carries its own key text (any HTTP_* header not in the table).
type Key uint8

// The known keys, in the order of enum gw_key in bridge.h.
const (
	KeyNone                  Key = C.GW_KEY_NONE
	KeyRequestMethod         Key = C.GW_KEY_REQUEST_METHOD
	KeyScriptName            Key = C.GW_KEY_SCRIPT_NAME
	KeyPathInfo              Key = C.GW_KEY_PATH_INFO
	KeyQueryString           Key = C.GW_KEY_QUERY_STRING
	KeyRequestURI            Key = C.GW_KEY_REQUEST_URI
	KeyContentType           Key = C.GW_KEY_CONTENT_TYPE
	KeyContentLength         Key = C.GW_KEY_CONTENT_LENGTH
	KeyServerName            Key = C.GW_KEY_SERVER_NAME
	KeyServerPort            Key = C.GW_KEY_SERVER_PORT
	KeyServerProtocol        Key = C.GW_KEY_SERVER_PROTOCOL
	KeyRemoteAddr            Key = C.GW_KEY_REMOTE_ADDR
	KeyRemotePort            Key = C.GW_KEY_REMOTE_PORT
	KeyHTTPS                 Key = C.GW_KEY_HTTPS
	keyFirstHeader           Key = C.GW_KEY_HTTP_HOST
	keyCount                 Key = C.GW_KEY_COUNT
	entryHeaderSize              = int(C.sizeof_gw_env_entry)
	maxValueLen                  = 1<<32 - 1
	maxKeyLen                    = 1<<16 - 1
	headerKeyNamesFirstIndex     = int(keyFirstHeader)
)

// headerKeyNames must list exactly the keys from GW_KEY_HTTP_HOST to
// GW_KEY_COUNT: this fails to compile when bridge.h and it disagree.
var _ = [1]struct{}{}[uint(keyCount)-uint(keyFirstHeader)-uint(len(headerKeyNames))]

// headerKeyNames are the interned HTTP_* keys, from GW_KEY_HTTP_HOST on.
var headerKeyNames = [...]string{
	"HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING",
	"HTTP_ACCEPT_LANGUAGE", "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_REFERER",
	"HTTP_CACHE_CONTROL", "HTTP_ORIGIN", "HTTP_X_FORWARDED_FOR",
	"HTTP_X_FORWARDED_PROTO", "HTTP_X_REQUESTED_WITH", "HTTP_AUTHORIZATION",
	"HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE",
}

var headerKeys = func() map[string]Key {
	m := make(map[string]Key, len(headerKeyNames))
	for i, n := range headerKeyNames {
		m[n] = Key(headerKeyNamesFirstIndex + i)
	}
	return m
}()

// HeaderKey returns the interned key for an environ name such as
// "HTTP_USER_AGENT", or KeyNone.
func HeaderKey(name []byte) Key {
	return headerKeys[string(name)] // no allocation: the compiler special-cases this lookup
}

// Environ is a request's environ packed for one hand-over to C: a run of
// gw_env_entry headers, each followed by its key (KeyNone only) and value.
// The zero value is ready to use; Reset keeps the buffer for the next request.
type Environ struct {
	buf []byte
}

// Reset empties the environ, keeping its memory.
func (e *Environ) Reset() { e.buf = e.buf[:0] }

// Bytes returns the packed form.
func (e *Environ) Bytes() []byte { return e.buf }

func (e *Environ) entry(k Key, keyLen, valLen int) {
	var h [8]byte
	h[0] = byte(k)
	binary.NativeEndian.PutUint16(h[2:], uint16(keyLen))
	binary.NativeEndian.PutUint32(h[4:], uint32(valLen))
	e.buf = append(e.buf, h[:entryHeaderSize]...)
}

// Add sets a known key. Values longer than 4 GiB are cut (the head limits make them impossible).
func (e *Environ) Add(k Key, v []byte) {
	if len(v) > maxValueLen {
		v = v[:maxValueLen]
	}
	e.entry(k, 0, len(v))
	e.buf = append(e.buf, v...)
}

// AddString is Add for a string value.
func (e *Environ) AddString(k Key, v string) {
	e.entry(k, 0, len(v))
	e.buf = append(e.buf, v...)
}

// AddInt sets a known key to a decimal number.
func (e *Environ) AddInt(k Key, n int64) {
	var b [20]byte
	e.Add(k, strconv.AppendInt(b[:0], n, 10))
}

// AddNamed sets a key given by its text, using the interned key when there is one.
func (e *Environ) AddNamed(name, v []byte) {
	if k := HeaderKey(name); k != KeyNone {
		e.Add(k, v)
		return
	}
	if len(name) > maxKeyLen {
		name = name[:maxKeyLen]
	}
	e.entry(KeyNone, len(name), len(v))
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, v...)
}

// Entries decodes the packed form, for tests and debugging.
func (e *Environ) Entries() map[string]string {
	m := map[string]string{}
	b := e.buf
	for len(b) >= entryHeaderSize {
		k := Key(b[0])
		kl := int(binary.NativeEndian.Uint16(b[2:]))
		vl := int(binary.NativeEndian.Uint32(b[4:]))
		b = b[entryHeaderSize:]
		name := string(b[:kl])
		if k != KeyNone {
			name = keyName(k)
		}
		m[name] = string(b[kl : kl+vl])
		b = b[kl+vl:]
	}
	return m
}

func keyName(k Key) string {
	switch k {
	case KeyRequestMethod:
		return "REQUEST_METHOD"
	case KeyScriptName:
		return "SCRIPT_NAME"
	case KeyPathInfo:
		return "PATH_INFO"
	case KeyQueryString:
		return "QUERY_STRING"
	case KeyRequestURI:
		return "REQUEST_URI"
	case KeyContentType:
		return "CONTENT_TYPE"
	case KeyContentLength:
		return "CONTENT_LENGTH"
	case KeyServerName:
		return "SERVER_NAME"
	case KeyServerPort:
		return "SERVER_PORT"
	case KeyServerProtocol:
		return "SERVER_PROTOCOL"
	case KeyRemoteAddr:
		return "REMOTE_ADDR"
	case KeyRemotePort:
		return "REMOTE_PORT"
	case KeyHTTPS:
		return "HTTPS"
	}
	if k >= keyFirstHeader && k < keyCount {
		return headerKeyNames[int(k)-headerKeyNamesFirstIndex]
	}
	return "?"
}
