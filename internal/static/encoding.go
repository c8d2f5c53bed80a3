package static

// negotiate returns the indexes (into codings) of the pre-compressed
// codings the Accept-Encoding value ae allows, best first: higher q first,
// br before gzip on a tie (it is smaller). A coding is allowed when it is
// listed with q > 0, or when "*" is listed with q > 0 and the coding is not
// listed itself (RFC 9110 §12.5.3); q=0 refuses it. Without the field
// (ae == nil) no coding is used, as nginx's gzip_static does.
func negotiate(ae []byte) []int {
	if ae == nil {
		return nil
	}
	var q [len(codings)]int // in thousandths; -1 when not listed
	for i := range q {
		q[i] = -1
	}
	star := -1
	for len(ae) > 0 {
		var elem []byte
		if i := indexByte(ae, ','); i >= 0 {
			elem, ae = ae[:i], ae[i+1:]
		} else {
			elem, ae = ae, nil
		}
		name, qv, ok := parseCodingElem(elem)
		if !ok {
			continue
		}
		switch {
		case equalFold(name, "br"):
			q[0] = qv
		case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
			q[1] = qv
		case len(name) == 1 && name[0] == '*':
			star = qv
		}
	}
	var order []int
	for i := range q {
		if q[i] < 0 {
			q[i] = star
		}
		if q[i] > 0 {
			order = append(order, i)
		}
	}
	if len(order) == 2 && q[order[1]] > q[order[0]] {
		order[0], order[1] = order[1], order[0]
	}
	return order
}

// parseCodingElem parses `coding *( OWS ";" OWS name=value )`; q defaults
// to 1000. An element with a malformed q gets q=0: it must not enable a
// coding the client may not support.
func parseCodingElem(elem []byte) (name []byte, q int, ok bool) {
	elem = trimOWS(elem)
	if len(elem) == 0 {
		return nil, 0, false
	}
	q = 1000
	i := indexByte(elem, ';')
	if i < 0 {
		return elem, q, true
	}
	name = trimOWS(elem[:i])
	params := elem[i+1:]
	for len(params) > 0 {
		var p []byte
		if j := indexByte(params, ';'); j >= 0 {
			p, params = params[:j], params[j+1:]
		} else {
			p, params = params, nil
		}
		p = trimOWS(p)
		if len(p) >= 2 && (p[0]|0x20) == 'q' && p[1] == '=' {
			v, good := parseQ(p[2:])
			if !good {
				v = 0
			}
			q = v
		}
	}
	return name, q, len(name) > 0
}

// parseQ parses a qvalue (RFC 9110 §12.4.2): "0" to "1" with up to three decimals.
func parseQ(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	v := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return v, true
	}
	if b[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v += int(c-'0') * scale
		scale /= 10
	}
	if v > 1000 {
		return 0, false
	}
	return v, true
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}
