package pyembed

import (
	"sync"
	"testing"
)

// TestGCCollections reads the collector's counts while requests run on
// both slots (so the GIL is contended and some reading threads have a
// request thread state of their own), and sees gc.collect() counted.
func TestGCCollections(t *testing.T) {
	if err := loadApp(App{Module: "gcapp", Callable: "collect"}); err != nil {
		t.Fatal(err)
	}
	before, err := GCCollections()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 {
		t.Fatalf("want 3 generations, got %v", before)
	}
	const requests = 40
	var wg sync.WaitGroup
	for _, sl := range Slots() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range requests {
				r := &recorder{}
				if _, err := sl.Run(r, basicEnviron().Bytes(), nil, false, false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := before
			for range 50 {
				got, err := GCCollections()
				if err != nil {
					t.Error(err)
					return
				}
				if got[2] < last[2] {
					t.Errorf("generation 2 collections went down: %v after %v", got, last)
				}
				last = got
			}
		}()
	}
	wg.Wait()
	after, err := GCCollections()
	if err != nil {
		t.Fatal(err)
	}
	// Each request's gc.collect() is a generation 2 collection.
	if want := before[2] + requests*uint64(len(Slots())); after[2] < want {
		t.Fatalf("generation 2 collections %d, want at least %d (before %v, after %v)", after[2], want, before, after)
	}
}
