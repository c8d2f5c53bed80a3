package pyembed

// The only functions C calls in Go. Each finds its request through the
// slot index C passes (FrankenPHP's approach): no per-request handles.

/*
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"io"
	"os"
	"unsafe"
)

//export go_write
func go_write(idx C.int, head *C.char, headLen C.size_t, iov *C.gw_iov, niov C.int, flags C.int) C.int {
	t := slots[idx]
	t.writeCallbacks++
	var h []byte
	if head != nil {
		h = unsafe.Slice((*byte)(unsafe.Pointer(head)), int(headLen))
	}
	t.iovs = t.iovs[:0]
	if niov > 0 {
		for _, v := range unsafe.Slice(iov, int(niov)) {
			t.iovs = append(t.iovs, unsafe.Slice((*byte)(unsafe.Pointer(v.base)), int(v.len)))
		}
	}
	rc := t.ex.Write(h, t.iovs, int(flags))
	clear(t.iovs) // do not keep Python's memory reachable
	return C.int(rc)
}

//export go_wait
func go_wait(idx C.int) C.int {
	return C.int(slots[idx].ex.Wait())
}

//export go_read
func go_read(idx C.int, dst *C.char, n C.size_t) C.ssize_t {
	t := slots[idx]
	if t.ex == nil {
		return -1
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(dst)), int(n))
	got, err := t.ex.ReadBody(p)
	if got > 0 {
		return C.ssize_t(got)
	}
	if err == nil || errors.Is(err, io.EOF) {
		return 0
	}
	return -1
}

//export go_log
func go_log(idx C.int, level C.int, msg *C.char, n C.size_t) {
	LogFunc(int(idx), int(level), string(unsafe.Slice((*byte)(unsafe.Pointer(msg)), int(n))))
}

//export go_sendfile
func go_sendfile(idx C.int, head *C.char, headLen C.size_t, fd C.int, offset, size C.int64_t) C.int {
	f := os.NewFile(uintptr(fd), "wsgi.file_wrapper")
	fs, ok := slots[idx].ex.(FileSender)
	if !ok {
		f.Close()
		return C.int(Declined)
	}
	h := unsafe.Slice((*byte)(unsafe.Pointer(head)), int(headLen))
	return C.int(fs.SendFile(h, f, int64(offset), int64(size)))
}
