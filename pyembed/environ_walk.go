package pyembed

import "encoding/binary"

// WalkEnviron calls fn for each entry of a packed environ (Environ.Bytes)
// in order: its key, its name (only for KeyNone entries) and its value,
// both slices of packed. It is how the access log reads the request as the
// application saw it, after the application has run.
func WalkEnviron(packed []byte, fn func(k Key, name, value []byte)) {
	b := packed
	for len(b) >= entryHeaderSize {
		k := Key(b[0])
		kl := int(binary.NativeEndian.Uint16(b[2:]))
		vl := int(binary.NativeEndian.Uint32(b[4:]))
		b = b[entryHeaderSize:]
		if kl+vl > len(b) {
			return // cut short: never read past the end
		}
		fn(k, b[:kl:kl], b[kl:kl+vl:kl+vl])
		b = b[kl+vl:]
	}
}
