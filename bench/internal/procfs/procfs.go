// Package procfs reads the few things the benchmark needs from Linux /proc:
// which processes make up a server (its process group plus any descendant that
// left the group) and their resident memory (VmRSS, and Pss).
//
// Every function takes the proc root ("/proc" in real use) so tests can point
// it at a fake tree.
package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Root is the real proc file system.
const Root = "/proc"

// Proc is the part of /proc/PID/stat the benchmark uses.
type Proc struct {
	PID, PPID, PGID int
	// State is the one-letter state: R, S, D, Z (zombie), ...
	State byte
	// Comm is the command name (without the parentheses).
	Comm string
	// UTime and STime are the CPU time used so far, in clock ticks
	// (USER_HZ, 100 per second on Linux).
	UTime, STime uint64
}

// TicksPerSecond is USER_HZ, the unit of the CPU times in /proc: 100 on
// every Linux architecture the benchmark runs on.
const TicksPerSecond = 100

// Zombie reports whether the process has exited and waits to be reaped.
func (p Proc) Zombie() bool { return p.State == 'Z' || p.State == 'X' }

// ParseStat parses the contents of /proc/PID/stat. The command name may hold
// spaces and parentheses, so the fields are read after the last ')'.
func ParseStat(data []byte) (Proc, error) {
	var p Proc
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return p, errors.New("procfs: stat without (comm)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return p, fmt.Errorf("procfs: stat pid: %w", err)
	}
	p.PID = pid
	p.Comm = string(data[open+1 : end])
	f := bytes.Fields(data[end+1:])
	// f[0] state, f[1] ppid, f[2] pgrp
	if len(f) < 3 || len(f[0]) != 1 {
		return p, errors.New("procfs: short stat")
	}
	p.State = f[0][0]
	if p.PPID, err = strconv.Atoi(string(f[1])); err != nil {
		return p, fmt.Errorf("procfs: stat ppid: %w", err)
	}
	if p.PGID, err = strconv.Atoi(string(f[2])); err != nil {
		return p, fmt.Errorf("procfs: stat pgrp: %w", err)
	}
	// f[11] utime, f[12] stime (fields 14 and 15 of proc(5)).
	if len(f) > 12 {
		if p.UTime, err = strconv.ParseUint(string(f[11]), 10, 64); err != nil {
			return p, fmt.Errorf("procfs: stat utime: %w", err)
		}
		if p.STime, err = strconv.ParseUint(string(f[12]), 10, 64); err != nil {
			return p, fmt.Errorf("procfs: stat stime: %w", err)
		}
	}
	return p, nil
}

// ReadStat reads and parses root/PID/stat.
func ReadStat(root string, pid int) (Proc, error) {
	data, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Proc{}, err
	}
	return ParseStat(data)
}

// ParseVmRSS returns the VmRSS of a /proc/PID/status in bytes. Kernel threads
// and zombies have no VmRSS line: that is 0 bytes, not an error.
func ParseVmRSS(status []byte) (int64, error) { return parseKB(status, "VmRSS") }

// ParsePss returns the Pss of a /proc/PID/smaps_rollup in bytes: the
// process's resident memory with each page shared by n processes counted
// 1/n, so that the Pss of a process tree adds up to what it really holds
// (its RSS counts a shared library or binary page once per process).
func ParsePss(smapsRollup []byte) (int64, error) { return parseKB(smapsRollup, "Pss") }

// parseKB finds the line "name: N kB" and returns N KiB in bytes, or 0
// when there is no such line.
func parseKB(data []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(name+":"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("procfs: unexpected %s line %q", name, sc.Text())
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procfs: %s: %w", name, err)
		}
		return kb * 1024, nil
	}
	return 0, sc.Err()
}

// ReadVmRSS reads root/PID/status and returns its VmRSS in bytes.
func ReadVmRSS(root string, pid int) (int64, error) {
	data, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	return ParseVmRSS(data)
}

// ReadPss reads root/PID/smaps_rollup and returns its Pss in bytes.
func ReadPss(root string, pid int) (int64, error) {
	data, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	return ParsePss(data)
}

// All lists every process under root. Processes that vanish while it reads
// are skipped.
func All(root string) ([]Proc, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	procs := make([]Proc, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		p, err := ReadStat(root, pid)
		if err != nil {
			if gone(err) {
				continue
			}
			return nil, err
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// Tree returns the processes that belong to a server started as the leader of
// its own process group: every member of process group pgid, plus every
// descendant of pid leader that moved to another group or session. Zombies
// are included (callers check Zombie).
func Tree(root string, pgid, leader int) ([]Proc, error) {
	all, err := All(root)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	byPID := make(map[int]Proc, len(all))
	for _, p := range all {
		byPID[p.PID] = p
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	in := map[int]bool{}
	var out []Proc
	add := func(p Proc) {
		if !in[p.PID] {
			in[p.PID] = true
			out = append(out, p)
		}
	}
	for _, p := range all {
		if p.PGID == pgid {
			add(p)
		}
	}
	// Descendants of the leader and of every group member (a worker may
	// start its own children after calling setsid).
	queue := []int{leader}
	for _, p := range out {
		queue = append(queue, p.PID)
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if p, ok := byPID[pid]; ok {
			add(p)
		}
		for _, c := range children[pid] {
			if !in[c] {
				queue = append(queue, c)
			}
		}
	}
	return out, nil
}

// SumRSS adds up the VmRSS of the given processes, skipping those that are
// gone. It returns the total in bytes and how many processes were counted.
func SumRSS(root string, pids []int) (total int64, counted int, err error) {
	return sum(root, pids, ReadVmRSS)
}

// SumPss is SumRSS for Pss.
func SumPss(root string, pids []int) (total int64, counted int, err error) {
	return sum(root, pids, ReadPss)
}

func sum(root string, pids []int, read func(string, int) (int64, error)) (total int64, counted int, err error) {
	for _, pid := range pids {
		rss, err := read(root, pid)
		if err != nil {
			if gone(err) {
				continue
			}
			return total, counted, err
		}
		total += rss
		counted++
	}
	return total, counted, nil
}

// TreeRSS is Tree followed by SumRSS.
func TreeRSS(root string, pgid, leader int) (int64, int, error) {
	pids, err := treePIDs(root, pgid, leader)
	if err != nil {
		return 0, 0, err
	}
	return SumRSS(root, pids)
}

// TreePss is Tree followed by SumPss.
func TreePss(root string, pgid, leader int) (int64, int, error) {
	pids, err := treePIDs(root, pgid, leader)
	if err != nil {
		return 0, 0, err
	}
	return SumPss(root, pids)
}

func treePIDs(root string, pgid, leader int) ([]int, error) {
	procs, err := Tree(root, pgid, leader)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(procs))
	for _, p := range procs {
		pids = append(pids, p.PID)
	}
	return pids, nil
}

// gone reports errors that mean the process exited while being read.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrProcessDone) ||
		errors.Is(err, syscall.ESRCH)
}

// Sampler polls the RSS of a process tree and keeps the peak.
type Sampler struct {
	stop chan struct{}
	done chan struct{}
	peak int64
	n    int
	err  error
}

// StartSampler samples TreeRSS(root, pgid, leader) now and then every
// interval until Stop.
func StartSampler(root string, pgid, leader int, interval time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			rss, _, err := TreeRSS(root, pgid, leader)
			if err != nil && s.err == nil {
				s.err = err
			}
			if rss > s.peak {
				s.peak = rss
			}
			s.n++
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak in bytes, the number of samples
// taken and the first error met.
func (s *Sampler) Stop() (peak int64, samples int, err error) {
	close(s.stop)
	<-s.done
	return s.peak, s.n, s.err
}

// TreeCPU returns the CPU time (user + system, in ticks) used so far by the
// live processes of the tree (see Tree).
func TreeCPU(root string, pgid, leader int) (uint64, error) {
	procs, err := Tree(root, pgid, leader)
	if err != nil {
		return 0, err
	}
	var ticks uint64
	for _, p := range procs {
		ticks += p.UTime + p.STime
	}
	return ticks, nil
}

// ParseCPUBusy reads the aggregate "cpu" line of /proc/stat and returns the
// busy ticks (user, nice, system, irq, softirq, steal) and all ticks (busy
// plus idle and iowait), summed over all CPUs.
func ParseCPUBusy(stat []byte) (busy, total uint64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(stat))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 9 || string(f[0]) != "cpu" {
			continue
		}
		var v [8]uint64
		for i := range v {
			if v[i], err = strconv.ParseUint(string(f[i+1]), 10, 64); err != nil {
				return 0, 0, fmt.Errorf("procfs: /proc/stat cpu line: %w", err)
			}
		}
		// user nice system idle iowait irq softirq steal
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		return busy, busy + v[3] + v[4], nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, errors.New("procfs: no cpu line in /proc/stat")
}

// CPUBusy is ParseCPUBusy of root/stat.
func CPUBusy(root string) (busy, total uint64, err error) {
	data, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return 0, 0, err
	}
	return ParseCPUBusy(data)
}
