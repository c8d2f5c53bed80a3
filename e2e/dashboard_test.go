package e2e

// The live stats page in a real browser: headless Chromium driven over
// the DevTools protocol (chromedp), against gowsgi under a light load.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser of Debian's chromium package (scripts/setup.sh).
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the page's screenshots go: GOWSGI_E2E_ARTIFACTS,
// or a directory under the system's temporary one; the test logs the paths.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("GOWSGI_E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "gowsgi-e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lightLoad keeps the server busy until stop: fast requests, slow ones
// (so Python threads show as busy with their request), and some 404s
// and 500s.
func lightLoad(t *testing.T, s *observed) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := s.client(t)
	loop := func(path func(i int) string, pause time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, "GET", s.url(path(i)), nil)
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	for c := 0; c < 2; c++ {
		loop(func(int) string { return "/api/items?page=2" }, 2*time.Millisecond)
	}
	for c := 1; c <= 3; c++ {
		ms := 200 * c
		loop(func(int) string { return fmt.Sprintf("/sleep?ms=%d", ms) }, 50*time.Millisecond)
	}
	loop(func(i int) string {
		if i%3 == 0 {
			return "/fail"
		}
		return "/status/404"
	}, 150*time.Millisecond)
	return func() {
		cancel()
		wg.Wait()
	}
}

func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing (%v): make setup installs Debian's chromium and chromium-driver", chromiumPath, err)
	}
	s := startObserved(t, "--processes", "2", "--threads", "4", "--stats", "127.0.0.1:0", "--disable-logging")
	s.allReady(t, 2)
	stopLoad := lightLoad(t, s)
	defer stopLoad()

	// The whole browser session is bounded; single steps get shorter limits.
	parent, cancelAll := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelAll()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	console := chromedp.Console(ctx)
	var problems []string
	var consoleMu sync.Mutex
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				consoleMu.Lock()
				problems = append(problems, string(m.Type)+": "+m.Text)
				consoleMu.Unlock()
			}
		}
	}()
	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, a); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return v
	}
	// waitEval waits until expr is true in the page.
	waitEval := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(obsTimeout)
		for eval("String(!!("+expr+"))") != "true" {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s (%s); it shows:\n%s", what, expr, eval("document.body.innerText"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	step("opening the page", chromedp.Navigate("http://"+s.stats+"/"))
	waitEval("both workers", `document.querySelectorAll(".worker").length === 2`)
	waitEval("the server as ready", `document.getElementById("state").textContent === "Ready"`)
	waitEval("requests counted", `/\d/.test(document.getElementById("kpi-requests").textContent)`)
	waitEval("a busy thread with its request", `document.querySelector(".slot.busy") && /\/sleep\?ms=\d+/.test(document.querySelector(".current").textContent)`)
	waitEval("a few seconds of history in the charts", `history.length >= 3`)

	// The numbers are live: read twice, a few refreshes apart.
	read := func() (requests float64, text string) {
		text = eval(`document.getElementById("kpi-requests").textContent`)
		return parseShort(t, text), text
	}
	first, firstText := read()
	firstSlots := eval(`document.getElementById("workers").textContent`)
	time.Sleep(2500 * time.Millisecond)
	second, secondText := read()
	if !(second > first) {
		t.Errorf("the request count did not move: %q then %q", firstText, secondText)
	}
	if eval(`document.getElementById("workers").textContent`) == firstSlots {
		t.Errorf("the workers' panel did not change in 2.5 s")
	}
	for _, id := range []string{"kpi-rps", "kpi-p50", "kpi-p99", "kpi-busy", "kpi-rss"} {
		if v := eval(`document.getElementById("` + id + `").textContent`); !strings.ContainsAny(v, "0123456789") {
			t.Errorf("#%s shows %q", id, v)
		}
	}
	if got := eval(`Array.from(document.querySelectorAll("#statuses .bar")).map(b => b.textContent).join(" | ")`); !strings.Contains(got, "4xx") || !strings.Contains(got, "5xx") {
		t.Errorf("status codes panel: %q", got)
	}
	// Self-contained: everything the page loaded came from the stats listener.
	origin := "http://" + s.stats + "/"
	for _, u := range strings.Split(eval(`[location.href].concat(performance.getEntriesByType("resource").map(e => e.name)).join("\n")`), "\n") {
		if !strings.HasPrefix(u, origin) {
			t.Errorf("the page loaded %s, from outside the stats listener", u)
		}
	}
	// The charts drew something other than the background.
	if got := eval(`String(Array.from(document.querySelectorAll("canvas")).every(c => { const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }))`); got != "true" {
		t.Errorf("a chart is blank")
	}

	dir := screenshotDir(t)
	shoot := func(name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of the stats page: %s", path)
	}
	shoot("dashboard-laptop.png")

	// A phone: nothing may be wider than the screen.
	step("a phone's viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	time.Sleep(1500 * time.Millisecond) // a refresh at the new size
	if over := eval(`String(document.documentElement.scrollWidth - window.innerWidth)`); over != "0" {
		wide := eval(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className).join(", ")`)
		t.Errorf("on a 390 px screen the page is %s px too wide: %s", over, wide)
	}
	shoot("dashboard-phone.png")

	consoleMu.Lock()
	defer consoleMu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
}

// parseShort reads a number as the page shows it: "1234", "12.3k", "4.56M".
func parseShort(t *testing.T, s string) float64 {
	t.Helper()
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1e9, strings.TrimSuffix(s, "G")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("the page shows %q where a number belongs", s)
	}
	return v * mult
}
