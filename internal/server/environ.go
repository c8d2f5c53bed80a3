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
		if seenBefore(hs[:i], h.Name) {
			continue // joined into the first occurrence
		}
		switch {
		case equalFold(h.Name, "content-type"):
			e.Add(pyembed.KeyContentType, joinedValue(hs, i, ", "))
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
		e.AddNamed(key, joinedValue(hs, i, sep))
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
		switch {
		case ch >= 'a' && ch <= 'z':
			ch -= 'a' - 'A'
		case ch == '-':
			ch = '_'
		}
		dst = append(dst, ch)
	}
	return dst
}

func seenBefore(hs []httpwire.Header, name []byte) bool {
	for i := range hs {
		if bytes.EqualFold(hs[i].Name, name) {
			return true
		}
	}
	return false
}

// joinedValue is the value of hs[i] joined with every later header of the same name.
func joinedValue(hs []httpwire.Header, i int, sep string) []byte {
	v := hs[i].Value
	var joined []byte
	for j := i + 1; j < len(hs); j++ {
		if bytes.EqualFold(hs[j].Name, hs[i].Name) {
			if joined == nil {
				joined = append([]byte(nil), v...)
			}
			joined = append(joined, sep...)
			joined = append(joined, hs[j].Value...)
		}
	}
	if joined != nil {
		return joined
	}
	return v
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
