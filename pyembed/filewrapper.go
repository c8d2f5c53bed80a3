package pyembed

/*
#include "bridge.h"
*/
import "C"

import "os"

// Declined is FileSender.SendFile's answer when it cannot take the file:
// the bridge then iterates the wsgi.file_wrapper like any iterable.
const Declined = int(C.GW_DECLINED)

// FileSender is implemented by an Exchange that can send a response body
// straight from a file. When the application returns a wsgi.file_wrapper
// around a regular file, the bridge calls SendFile instead of the first
// Write: head is as for Write and holds Content-Length (unless the status
// is 204 or 304), f is a
// duplicate descriptor that the exchange owns and must close in every
// case, and the body is size bytes of f from offset (or fewer, when the
// head's Content-Length is smaller). The bridge then calls close() on the
// wrapper and makes the final Write. SendFile runs with the GIL held: it
// must not block, so the bytes are sent after Slot.Run returns. It returns
// OK, Gone or Declined. An Exchange without SendFile gets the file's bytes
// through Write, read by Python in blocks.
type FileSender interface {
	SendFile(head []byte, f *os.File, offset, size int64) int
}
