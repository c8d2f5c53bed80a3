package pyembed

import (
	"strconv"
	"testing"
)

// runCounted runs env on slot 0 and returns the recording and how many
// go_write callbacks the request made.
func runCounted(t *testing.T, env *Environ) (*recorder, int) {
	t.Helper()
	sl := Slots()[0]
	before := sl.writeCallbacks
	r := run(t, env, nil, nil)
	return r, sl.writeCallbacks - before
}

func TestStagedListResponseNeedsNoCallback(t *testing.T) {
	use(t, "sized_list")
	e := basicEnviron()
	e.AddNamed([]byte("SIZE"), []byte("1000"))
	r, calls := runCounted(t, e)
	if calls != 0 {
		t.Errorf("a 1000-byte list response made %d go_write callbacks, want 0 (staged)", calls)
	}
	if string(r.head) != "200 OK\r\nContent-Length: 1000\r\n" || r.body.Len() != 1000 || r.flags != WriteFinal {
		t.Fatalf("head %q, body %d bytes, flags %d", r.head, r.body.Len(), r.flags)
	}
}

func TestListLargerThanStageGoesThroughCallback(t *testing.T) {
	use(t, "sized_list")
	e := basicEnviron()
	n := stageSize + 1
	e.AddNamed([]byte("SIZE"), []byte(strconv.Itoa(n)))
	r, calls := runCounted(t, e)
	if calls != 1 {
		t.Errorf("a list larger than the stage made %d callbacks, want 1", calls)
	}
	b := r.body.Bytes()
	if len(b) != n || b[0] != 'a' || b[n-1] != 'b' || b[n/2-1] != 'a' || b[n/2] != 'b' {
		t.Fatalf("body of %d bytes is wrong (want %d)", len(b), n)
	}
}

func TestChunksCompletingContentLengthAreStaged(t *testing.T) {
	use(t, "chunks_with_length")
	r, calls := runCounted(t, basicEnviron())
	// "one" and "two" must reach Go while the application runs (PEP 3333:
	// no block may wait for the next); "six" completes the length, so it
	// waits with the final write.
	if calls != 2 {
		t.Errorf("got %d callbacks, want 2", calls)
	}
	if r.body.String() != "onetwosix" || r.flags != WriteFinal {
		t.Fatalf("body %q flags %d", r.body.String(), r.flags)
	}
}

func TestExcessAfterContentLengthStillReachesGo(t *testing.T) {
	use(t, "chunks_with_length")
	e := basicEnviron()
	e.AddNamed([]byte("EXTRA"), []byte("more"))
	r, _ := runCounted(t, e)
	// The exchange, not the bridge, drops bytes past Content-Length (and logs it).
	if r.body.String() != "onetwosixmore" {
		t.Fatalf("body %q", r.body.String())
	}
}

func TestStagedBodyThenRaiseAborts(t *testing.T) {
	use(t, "chunks_with_length")
	e := basicEnviron()
	e.AddNamed([]byte("EXTRA"), []byte("raise"))
	r, _ := runCounted(t, e)
	if r.body.String() != "onetwosix" || r.flags != WriteFinal|WriteAbort {
		t.Fatalf("body %q flags %d, want the whole body and an aborted final", r.body.String(), r.flags)
	}
}

func TestStreamWithoutLengthSendsEachChunk(t *testing.T) {
	use(t, "chunks_no_length")
	r, calls := runCounted(t, basicEnviron())
	if calls != 2 || r.body.String() != "firstsecond" || r.flags != WriteFinal {
		t.Fatalf("callbacks %d, body %q, flags %d", calls, r.body.String(), r.flags)
	}
}
