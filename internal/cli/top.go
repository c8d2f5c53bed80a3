package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/metrics"
)

// topCommand is `gowsgi top`: the stats listener's /stats as a terminal
// view that refreshes itself, for people on a server over ssh (uwsgitop).
func topCommand(code *int, stdout, stderr io.Writer) *cobra.Command {
	var addr string
	var once bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "top --stats ADDR",
		Short: "show a running gowsgi's workers and requests live (q or Ctrl-C quits)",
		Long: "top reads the stats listener of a running gowsgi (its --stats address) every\n" +
			"interval and shows requests per second, latency, every worker and the requests\n" +
			"its Python threads are running. q or Ctrl-C quits; --once prints one frame.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				return usageError{errors.New("top needs --stats ADDR, the address given to the server's --stats")}
			}
			if _, _, err := metrics.StatsNetwork(addr); err != nil {
				return usageError{fmt.Errorf("--stats %w", err)}
			}
			if interval < 100*time.Millisecond {
				return usageError{fmt.Errorf("--interval %v: want at least 100ms", interval)}
			}
			*code = runTop(addr, once, interval, stdout, stderr)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "stats", "", "the stats listener: PORT, HOST:PORT or unix:/path, as given to the server")
	f.BoolVar(&once, "once", false, "print one frame and exit (for scripts)")
	f.DurationVar(&interval, "interval", time.Second, "time between refreshes")
	return cmd
}

// statsClient reads /stats from a --stats address.
type statsClient struct {
	client *http.Client
	url    string
}

func newStatsClient(addr string) *statsClient {
	network, address, _ := metrics.StatsNetwork(addr)
	host := address
	if network == "unix" {
		host = "stats"
	}
	return &statsClient{
		url: "http://" + host + "/stats",
		client: &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, address)
				},
				DisableCompression: true,
			},
		},
	}
}

func (c *statsClient) get() (*metrics.Stats, error) {
	resp, err := c.client.Get(c.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", c.url, resp.Status)
	}
	var st metrics.Stats
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %w", c.url, err)
	}
	return &st, nil
}

func runTop(addr string, once bool, interval time.Duration, stdout, stderr io.Writer) int {
	c := newStatsClient(addr)
	out, isFile := stdout.(*os.File)
	tty := isFile && isTerminal(int(out.Fd()))
	color := tty && os.Getenv("NO_COLOR") == ""
	if once {
		st, err := c.get()
		if err != nil {
			fmt.Fprintf(stderr, "gowsgi top: %v\n", err)
			return ExitError
		}
		w, h := 0, 0 // a script gets every line, whole
		if tty {
			w, _ = terminalSize(int(out.Fd()))
		}
		io.WriteString(stdout, renderTop(st, w, h, color))
		return ExitOK
	}

	quit := make(chan struct{}, 1)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		quit <- struct{}{}
	}()
	if restore := rawKeys(os.Stdin); restore != nil {
		defer restore()
		go func() {
			b := make([]byte, 1)
			for {
				n, err := os.Stdin.Read(b)
				if err != nil {
					return
				}
				if n == 1 && (b[0] == 'q' || b[0] == 'Q' || b[0] == 3) {
					quit <- struct{}{}
					return
				}
			}
		}()
	}
	if tty {
		io.WriteString(stdout, "\x1b[?1049h\x1b[?25l") // the alternate screen, no cursor
		defer io.WriteString(stdout, "\x1b[?25h\x1b[?1049l")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		var frame string
		w, h := 100, 40
		if tty {
			w, h = terminalSize(int(out.Fd()))
		}
		if st, err := c.get(); err != nil {
			frame = fmt.Sprintf("gowsgi top: %v\n(retrying every %v; q quits)\n", err, interval)
		} else {
			frame = renderTop(st, w, h, color)
		}
		if tty {
			frame = "\x1b[H\x1b[2J" + strings.ReplaceAll(frame, "\n", "\x1b[K\r\n")
		}
		io.WriteString(stdout, frame)
		select {
		case <-quit:
			return ExitOK
		case <-tick.C:
		}
	}
}

// renderTop draws one frame for a terminal width columns wide and height
// lines high (0: no limit for either). color adds ANSI bold and colours.
func renderTop(st *metrics.Stats, width, height int, color bool) string {
	if width > 0 && width < 40 {
		width = 40
	}
	uriWidth := 0
	if width > 0 {
		uriWidth = width - 29
	}
	sgr := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var lines []string
	add := func(s string) { lines = append(lines, s) }

	state := sgr("1;32", "READY")
	switch {
	case st.Draining:
		state = sgr("1;33", "DRAINING")
	case !st.Ready:
		state = sgr("1;31", "NOT READY")
	}
	add(fmt.Sprintf("%s %s · %s · Python %s · up %s · %d workers · %s",
		sgr("1", "gowsgi"), st.Version, st.App, st.Python, topDuration(st.UptimeSeconds), len(st.Workers), state))
	rps := "–"
	if st.RPS != nil {
		rps = strconv.FormatFloat(*st.RPS, 'f', 1, 64)
	}
	add(fmt.Sprintf("req/s %s   p50 %s  p90 %s  p99 %s   busy %d/%d  queue %d  in flight %d",
		sgr("1", rps), topSeconds(st.P50), topSeconds(st.P90), topSeconds(st.P99), st.Busy, st.Threads, st.Queue, st.InFlight))
	add(fmt.Sprintf("requests %s (2xx %s 3xx %s 4xx %s 5xx %s)  tracebacks %s  rss %s  in %s  out %s",
		topCount(st.Requests), topCount(st.ByStatus["2xx"]), topCount(st.ByStatus["3xx"]), topCount(st.ByStatus["4xx"]),
		sgr("31", topCount(st.ByStatus["5xx"])), topCount(st.PythonErrors), topBytes(st.RSSBytes), topBytes(st.BytesIn), topBytes(st.BytesOut)))
	causes := make([]string, 0, len(st.Restarts))
	for _, k := range sortedMapKeys(st.Restarts) {
		causes = append(causes, fmt.Sprintf("%s %d", k, st.Restarts[k]))
	}
	add("restarts: " + strings.Join(causes, " · "))
	add("")
	add(sgr("7", fmt.Sprintf("%-*s", width, fmt.Sprintf("%4s %7s %4s %-11s %11s %9s %10s %7s  %s", "WID", "PID", "GEN", "STATUS", "REQUESTS", "AVG", "RSS", "BUSY", "GC 0/1/2"))))
	type running struct {
		worker int
		slot   metrics.SlotStats
	}
	var busy []running
	for _, w := range st.Workers {
		status := w.Status
		switch status {
		case "busy":
			status = sgr("33", fmt.Sprintf("%-11s", status))
		case "unreachable":
			status = sgr("31", fmt.Sprintf("%-11s", status))
		default:
			status = fmt.Sprintf("%-11s", status)
		}
		gc := make([]string, len(w.GCCollections))
		for i, n := range w.GCCollections {
			gc[i] = strconv.FormatUint(n, 10)
		}
		add(fmt.Sprintf("%4d %7d %4d %s %11s %9s %10s %7s  %s", w.Index, w.PID, w.Generation, status, topCount(w.Requests),
			topSeconds(&w.AvgSeconds), topBytes(w.RSSBytes), fmt.Sprintf("%d/%d", w.Busy, w.Threads), strings.Join(gc, "/")))
		if w.Status == "unreachable" && w.Error != "" {
			add("     " + w.Error)
		}
		for _, s := range w.Slots {
			if s.State == "busy" {
				busy = append(busy, running{w.Index, s})
			}
		}
	}
	add("")
	sort.Slice(busy, func(i, j int) bool { return busy[i].slot.AgeSeconds > busy[j].slot.AgeSeconds })
	add(sgr("7", fmt.Sprintf("%-*s", width, fmt.Sprintf("%4s %4s %-7s %9s  %s", "WID", "SLOT", "METHOD", "AGE", "REQUEST"))))
	if len(busy) == 0 {
		add("     no request is running Python")
	}
	for i, b := range busy {
		if height > 0 && len(lines) >= height-1 && i < len(busy) {
			add(fmt.Sprintf("     … and %d more", len(busy)-i))
			break
		}
		age := topSeconds(&b.slot.AgeSeconds)
		if b.slot.AgeSeconds > 10 {
			age = sgr("31", fmt.Sprintf("%9s", age))
		} else {
			age = fmt.Sprintf("%9s", age)
		}
		add(fmt.Sprintf("%4d %4d %-7s %s  %s", b.worker, b.slot.Index, clip(b.slot.Method, 7), age, clip(b.slot.URI, uriWidth)))
	}
	for i, l := range lines {
		if !color && width > 0 {
			lines[i] = clip(l, width)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if n < 1 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func topSeconds(s *float64) string {
	switch {
	case s == nil:
		return "–"
	case *s < 0.001:
		return fmt.Sprintf("%.0f µs", *s*1e6)
	case *s < 1:
		return fmt.Sprintf("%.2f ms", *s*1e3)
	}
	return fmt.Sprintf("%.2f s", *s)
}

func topCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func topBytes(b uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(b)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

func topDuration(sec float64) string {
	return (time.Duration(sec) * time.Second).String()
}

func sortedMapKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

func terminalSize(fd int) (int, int) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 100, 40
	}
	return int(ws.Col), int(ws.Row)
}

// rawKeys makes a terminal on f deliver key presses at once and without
// echo (Ctrl-C still signals), returning what restores it; nil if f is no
// terminal.
func rawKeys(f *os.File) (restore func()) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if unix.IoctlSetTermios(fd, unix.TCSETS, &raw) != nil {
		return nil
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
}
