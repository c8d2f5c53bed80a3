package procfs

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

const fake = "testdata/proc"

func TestParseStat(t *testing.T) {
	p, err := ParseStat([]byte("101 (uwsgi worker (1) x) S 100 100 100 34816 100 4194560 1250 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Proc{PID: 101, PPID: 100, PGID: 100, State: 'S', Comm: "uwsgi worker (1) x"}
	if p != want {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	for _, bad := range []string{"", "12 noparen S 1 1 1", "12 (x) S", "x (y) S 1 1 1", "12 (x) S a 1 1"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q): want an error", bad)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := ParseVmRSS([]byte("Name:\tx\nVmHWM:\t  900 kB\nVmRSS:\t   812 kB\nRssAnon:\t 1 kB\n"))
	if err != nil || got != 812*1024 {
		t.Fatalf("got %d, %v; want %d", got, err, 812*1024)
	}
	// Zombies and kernel threads have no VmRSS line.
	if got, err := ParseVmRSS([]byte("Name:\tx\nState:\tZ (zombie)\n")); err != nil || got != 0 {
		t.Fatalf("no VmRSS: got %d, %v; want 0, nil", got, err)
	}
	if _, err := ParseVmRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Fatal("want an error for an unknown unit")
	}
}

func TestParsePss(t *testing.T) {
	rollup := "00400000-7ffc rw-p 00000000 00:00 0  [rollup]\nRss:  20760 kB\nPss:  11691 kB\nPss_Dirty:  6584 kB\n"
	if got, err := ParsePss([]byte(rollup)); err != nil || got != 11691*1024 {
		t.Fatalf("got %d, %v; want %d", got, err, 11691*1024)
	}
}

func TestTreeFake(t *testing.T) {
	procs, err := Tree(fake, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	zombies := 0
	for _, p := range procs {
		pids = append(pids, p.PID)
		if p.Zombie() {
			zombies++
		}
	}
	slices.Sort(pids)
	// 103 left the group (setsid) but is a child of 101; 200 is unrelated.
	if want := []int{100, 101, 102, 103}; !slices.Equal(pids, want) {
		t.Fatalf("tree pids %v, want %v", pids, want)
	}
	if zombies != 1 {
		t.Fatalf("zombies %d, want 1", zombies)
	}
	rss, n, err := TreeRSS(fake, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(20480+15360+1024) * 1024; rss != want || n != 4 {
		t.Fatalf("TreeRSS = %d over %d processes, want %d over 4", rss, n, want)
	}
}

func TestSumRSSSkipsGone(t *testing.T) {
	rss, n, err := SumRSS(fake, []int{100, 999999})
	if err != nil || rss != 20480*1024 || n != 1 {
		t.Fatalf("got %d, %d, %v", rss, n, err)
	}
}

// TestTreeLive starts a real process group (sh with a child) and reads it
// from the real /proc.
func TestTreeLive(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	defer func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	var procs []Proc
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if procs, err = Tree(Root, pid, pid); err != nil {
			t.Fatal(err)
		}
		if len(procs) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(procs) != 3 {
		t.Fatalf("want sh and two sleeps, got %+v", procs)
	}
	rss, n, err := TreeRSS(Root, pid, pid)
	if err != nil || n != 3 || rss <= 0 {
		t.Fatalf("TreeRSS = %d, %d, %v", rss, n, err)
	}
	pss, n, err := TreePss(Root, pid, pid)
	if err != nil || n != 3 || pss <= 0 || pss > rss {
		t.Fatalf("TreePss = %d, %d, %v (rss %d)", pss, n, err, rss)
	}
	s := StartSampler(Root, pid, pid, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	peak, samples, err := s.Stop()
	if err != nil || samples < 2 || peak < rss/2 {
		t.Fatalf("sampler: peak %d after %d samples, %v (rss %d)", peak, samples, err, rss)
	}
}

func TestCPU(t *testing.T) {
	p, err := ReadStat(fake, 101)
	if err != nil || p.UTime != 12 || p.STime != 5 {
		t.Fatalf("utime/stime: %+v, %v", p, err)
	}
	ticks, err := TreeCPU(fake, 100, 100)
	if err != nil || ticks != 3*17 {
		t.Fatalf("TreeCPU = %d, %v; want 51", ticks, err)
	}
	busy, total, err := CPUBusy(fake)
	if err != nil || busy != 10000+50+3000+100+400+25 || total != busy+80000+200 {
		t.Fatalf("CPUBusy = %d, %d, %v", busy, total, err)
	}
	if _, _, err := ParseCPUBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Fatal("want an error without a cpu line")
	}
	if _, err := os.Stat("/proc/stat"); err == nil {
		if busy, total, err := CPUBusy(Root); err != nil || busy == 0 || total <= busy {
			t.Errorf("real /proc/stat: %d, %d, %v", busy, total, err)
		}
	}
}
