package server

import (
	"bytes"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/pyembed"
)

var errUnderscoreHeader = &httpwire.Error{Status: 400, Reason: "header names with underscores are not accepted"}

// buildEnviron packs the CGI variables and HTTP_* headers of c.req for C
// (PEP 3333 and CGI, RFC 3875 §4.1). Header slices alias the read buffer,
// so this runs before the head is discarded.
func (c *conn) buildEnviron() error {
	req := &c.req
	e := &c.env
	e.Reset()
	e.Add(pyembed.KeyRequestMethod, req.Method)
	e.Add(pyembed.KeyRequestURI, req.Target)
	path, err := httpwire.PercentDecodePath(c.scratch[:0], req.Path)
	if err != nil {
		return err
	}
	c.scratch = path
	e.Add(pyembed.KeyPathInfo, path)
	e.Add(pyembed.KeyQueryString, req.Query)
	if req.ProtoMinor == 1 {
		e.AddString(pyembed.KeyServerProtocol, "HTTP/1.1")
	} else {
		e.AddString(pyembed.KeyServerProtocol, "HTTP/1.0")
	}
	o := c.requestOrigin() // the connection's view, corrected by trusted proxies (proxy.go)
	e.Add(pyembed.KeyServerName, o.serverName)
	e.AddString(pyembed.KeyServerPort, o.serverPort)
	e.AddString(pyembed.KeyRemoteAddr, o.remoteIP)
	if o.remotePort != "" {
		e.AddString(pyembed.KeyRemotePort, o.remotePort)
	}
	if o.https {
		e.AddString(pyembed.KeyHTTPS, "on")
	}
	c.https = o.https

	// The body framing is the server's business once it has decoded it.
	dropTE := req.Chunked && !(req.ExpectContinue && req.ProtoMinor == 1)
	policy := c.srv.opts.UnderscoreHeaders
	hs := req.Headers
	var name [256]byte
	for i := range hs {
		h := &hs[i]
		if bytes.IndexByte(h.Name, '_') >= 0 {
			switch policy {
			case config.UnderscoreRefuse:
				return errUnderscoreHeader
			case config.UnderscoreDrop:
				continue
			case config.UnderscoreAllow:
				if underscoreTwin(h.Name, "content-type") || underscoreTwin(h.Name, "content-length") || underscoreTwin(h.Name, "transfer-encoding") {
					// Never HTTP_CONTENT_LENGTH beside CONTENT_LENGTH (RFC 3875 §4.1.18),
					// nor a framing field the body was not framed by.
					continue
				}
			}
		}
		join := headerJoin{allow: policy == config.UnderscoreAllow}
		if join.seenBefore(hs[:i], h.Name) {
			continue // joined into the first occurrence
		}
		switch {
		case equalFold(h.Name, "content-type"):
			e.Add(pyembed.KeyContentType, join.value(hs, i, ", "))
			continue
		case equalFold(h.Name, "content-length"):
			e.Add(pyembed.KeyContentLength, h.Value)
			continue
		case equalFold(h.Name, "proxy"):
			continue // httpoxy (CVE-2016-5385): HTTP_PROXY would be read as a proxy setting
		case dropTE && equalFold(h.Name, "transfer-encoding"):
			continue
		case o.host != nil && equalFold(h.Name, "host"):
			continue // a trusted proxy named the host; added below
		}
		sep := ", "
		if equalFold(h.Name, "cookie") {
			sep = "; " // RFC 6265 §5.4
		}
		key := environKey(name[:0], h.Name)
		e.AddNamed(key, join.value(hs, i, sep))
	}
	if o.host != nil {
		e.AddNamed(httpHostKey, o.host)
	}
	return nil
}

// environKey turns a header name into its CGI form: HTTP_ + upper case, '-' -> '_'.
func environKey(dst, name []byte) []byte {
	dst = append(dst, "HTTP_"...)
	for _, ch := range name {
		dst = append(dst, envByte(ch))
	}
	return dst
}

// headerJoin tells which header lines become one environ value: lines of
// the same name (case-insensitive), and with --underscore-headers allow
// also the spellings that differ only in '-' and '_' ("X-Foo-Bar" and
// "X-Foo_Bar" are both HTTP_X_FOO_BAR: joined, not the last one winning).
// A line the policy drops joins nothing.
type headerJoin struct{ allow bool }

func (j headerJoin) same(a, b []byte) bool {
	if !j.allow {
		return bytes.EqualFold(a, b)
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if envByte(a[i]) != envByte(b[i]) {
			return false
		}
	}
	return true
}

// envByte is a header name byte as its environ key has it: upper case,
// '_' for '-'.
func envByte(ch byte) byte {
	switch {
	case ch >= 'a' && ch <= 'z':
		return ch - ('a' - 'A')
	case ch == '-':
		return '_'
	}
	return ch
}

// dropped reports whether the environ never gets the line named name.
func (j headerJoin) dropped(name []byte) bool {
	if bytes.IndexByte(name, '_') < 0 {
		return false
	}
	return !j.allow || underscoreTwin(name, "content-type") || underscoreTwin(name, "content-length") || underscoreTwin(name, "transfer-encoding")
}

func (j headerJoin) seenBefore(hs []httpwire.Header, name []byte) bool {
	for i := range hs {
		if j.same(hs[i].Name, name) && !j.dropped(hs[i].Name) {
			return true
		}
	}
	return false
}

// value is the value of hs[i] joined with every later line of the same field.
func (j headerJoin) value(hs []httpwire.Header, i int, sep string) []byte {
	return joinLater(len(hs), i, sep, func(k int) []byte { return hs[k].Value },
		func(k int) bool { return j.same(hs[k].Name, hs[i].Name) && !j.dropped(hs[k].Name) })
}

// joinLater joins value(i) with value(k), in order, for every k after i
// of the n items where same(k); with none it returns value(i) itself.
func joinLater(n, i int, sep string, value func(int) []byte, same func(int) bool) []byte {
	var joined []byte
	for k := i + 1; k < n; k++ {
		if same(k) {
			if joined == nil {
				joined = append([]byte(nil), value(i)...)
			}
			joined = append(joined, sep...)
			joined = append(joined, value(k)...)
		}
	}
	if joined != nil {
		return joined
	}
	return value(i)
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}

// hostOnly strips the port from a Host value, keeping IPv6 brackets' content.
func hostOnly(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// underscoreTwin reports whether name is field (lower case, with '-') spelt
// with at least one '_' for a '-', in any case: Content_Length for content-length.
func underscoreTwin(name []byte, field string) bool {
	if len(name) != len(field) {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch == '_' && field[i] == '-' {
			continue
		}
		if ch != field[i] {
			return false
		}
	}
	return bytes.IndexByte(name, '_') >= 0
}
