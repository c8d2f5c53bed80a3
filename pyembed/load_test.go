package pyembed

import "testing"

func TestLoadCountsEachRun(t *testing.T) {
	use(t, "hello")
	before := ReadLoad()
	for i := 0; i < 3; i++ {
		run(t, basicEnviron(), nil, nil)
	}
	after := ReadLoad()
	if got := after.Runs - before.Runs; got != 3 {
		t.Fatalf("runs grew by %d, want 3", got)
	}
	if after.Run <= before.Run || after.GILWait < before.GILWait {
		t.Fatalf("run time %v -> %v, GIL wait %v -> %v: want run time to grow and waits never to shrink", before.Run, after.Run, before.GILWait, after.GILWait)
	}
}
