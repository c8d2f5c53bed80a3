package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// serverColors: gowsgi stands out, the Python peers are mid tones, the
// no-Python ceilings are greys.
var serverColors = map[string]string{
	"gowsgi":        "#e4572e",
	"gowsgi-stats":  "#f3a712",
	"uwsgi":         "#3b75af",
	"uwsgi-nodelay": "#79a6d8",
	"gunicorn":      "#519e3e",
	"waitress":      "#8d69b8",
	"nethttp":       "#a8a8a8",
	"fasthttp":      "#5f5f5f",
	"nginx":         "#2a9d8f",
}

// chartSVG draws a grouped bar chart: one group per scenario, one bar per
// server of that scenario, height = req/s (MB/s for downloads) relative to
// the scenario's baseline in the same run (uWSGI; hello-metrics: gowsgi
// without metrics), with a line at 1.0. Starved or failed results are
// hatched and labelled; missing ones say why.
func chartSVG(rep *Report) string {
	// Servers present anywhere, in the canonical order.
	var srv []Server
	for _, s := range servers {
		for _, sc := range rep.Scenarios {
			if _, ok := sc.row(s.Name); ok {
				srv = append(srv, s)
				break
			}
		}
	}
	const (
		left, right, top, bottom = 64, 24, 150, 64
		barW, barGap, groupGap   = 16, 3, 36
		plotH                    = 300
		capRatio                 = 5.0
	)
	// A group is as wide as its bars, or as its captions when wider.
	groupWs := make([]int, len(rep.Scenarios))
	plotW := groupGap
	for i, sc := range rep.Scenarios {
		nb := max(len(sc.Rows), 1)
		groupWs[i] = max(nb*(barW+barGap)-barGap, textWidth(sc.Name, 12), textWidth(sc.Shape(), 10),
			textWidth(baselineCaption(sc), 10))
		plotW += groupWs[i] + groupGap
	}
	m := rep.Machine
	sub := fmt.Sprintf("median of %d run(s) × %gs, h2load --h1 on loopback, %d cores shared by server and load generator; %s",
		rep.Config.Runs, rep.Config.DurationS, m.NProc, rep.Generated.Format("2006-01-02 15:04 MST"))
	if rep.Config.Quick {
		sub = "QUICK SMOKE RUN — " + sub
	}
	allUWSGI := true // every ratio is to uWSGI
	for _, sc := range rep.Scenarios {
		allUWSGI = allUWSGI && sc.baselineIsUWSGI() && !sc.downloads()
	}
	// Wide enough for the subtitle too (textWidth overestimates small text).
	width := max(left+plotW+right, 760, left+textWidth(sub, 11)*9/10+right)
	height := top + plotH + bottom

	maxRatio := 1.2
	for _, sc := range rep.Scenarios {
		for _, r := range sc.Rows {
			if r.RatioToBaseline != nil {
				maxRatio = max(maxRatio, *r.RatioToBaseline*1.08)
			}
		}
	}
	ymax := math.Min(niceCeil(maxRatio), capRatio)
	step := 0.5
	if ymax > 3 {
		step = 1
	}
	y := func(v float64) float64 { return float64(top+plotH) - math.Min(v, ymax)/ymax*plotH }

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
		width, height, width, height)
	p(`<title>gowsgi benchmark: req/s relative to uWSGI (or the scenario's baseline)</title>`)
	p(`<defs>`)
	for _, s := range srv {
		p(`<pattern id="hatch-%s" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><rect width="3" height="6" fill="%s"/></pattern>`,
			s.Name, serverColors[s.Name])
	}
	p(`<pattern id="hatch-legend" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><rect width="3" height="6" fill="#777777"/></pattern>`)
	p(`</defs>`)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>`)

	// Title and subtitle.
	title, baseline := "req/s relative to uWSGI in the same run (higher is better)", "uWSGI = 1.0"
	if !allUWSGI {
		// The caption under each group names its baseline and unit.
		title, baseline = "req/s vs the baseline under each group (higher is better)", "baseline = 1.0"
	}
	p(`<text x="%d" y="24" font-size="17" font-weight="bold" fill="#222">%s</text>`, left, esc(title))
	p(`<text x="%d" y="42" font-size="11" fill="#555">%s</text>`, left, esc(sub))
	legendY := 56.0
	if n, total, _ := disturbedRuns(rep); n > 0 {
		p(`<text x="%d" y="58" font-size="11" font-weight="bold" fill="#c0392b">busy machine: %d of %d runs disturbed by other processes (see latest.md): numbers unreliable</text>`,
			left, n, total)
		legendY = 68
	}
	// Legend: swatches that wrap onto a second row when needed.
	lx, ly := float64(left), legendY
	item := func(label string, swatch func(x, y float64)) {
		w := 16 + float64(textWidth(label, 12)) + 18
		if lx+w > float64(width-right) && lx > float64(left) {
			lx, ly = float64(left), ly+20
		}
		swatch(lx, ly)
		p(`<text x="%.1f" y="%.1f" font-size="12" fill="#222">%s</text>`, lx+16, ly+10, esc(label))
		lx += w
	}
	for _, s := range srv {
		label := s.Label
		for _, sc := range rep.Scenarios {
			if r, ok := sc.row(s.Name); ok && strings.Contains(r.Note, "1 process:") {
				label += " (1 process)"
				break
			}
		}
		color := serverColors[s.Name]
		item(label, func(x, y float64) {
			p(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`, x, y, color)
		})
	}
	item("starved / failed: not a win", func(x, y float64) {
		p(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="url(#hatch-legend)" stroke="#777"/>`, x, y)
	})
	item(baseline, func(x, y float64) {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 2"/>`, x-2, y+6, x+13, y+6)
	})

	// Grid and y axis.
	for v := 0.0; v <= ymax+1e-9; v += step {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e3e3"/>`, left, y(v), left+plotW, y(v))
		p(`<text x="%d" y="%.1f" font-size="11" fill="#555" text-anchor="end">%.1fx</text>`, left-6, y(v)+4, v)
	}
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, top, left, top+plotH)
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, top+plotH, left+plotW, top+plotH)

	var labels []string // bar labels go last, over the 1.0 line
	gx := left + groupGap
	for gi, sc := range rep.Scenarios {
		groupW := groupWs[gi]
		cx := float64(gx) + float64(groupW)/2
		// The bars are centred in the group.
		barsW := max(len(sc.Rows), 1)*(barW+barGap) - barGap
		bx0 := float64(gx) + float64(groupW-barsW)/2
		gx += groupW + groupGap
		p(`<text x="%.1f" y="%d" font-size="12" font-weight="bold" fill="#222" text-anchor="middle">%s</text>`,
			cx, top+plotH+18, esc(sc.Name))
		p(`<text x="%.1f" y="%d" font-size="10" fill="#666" text-anchor="middle">%s</text>`,
			cx, top+plotH+32, esc(sc.Shape()))
		color := "#666"
		if sc.BaselineRow == "" {
			color = "#c0392b"
		}
		p(`<text x="%.1f" y="%d" font-size="10" fill="%s" text-anchor="middle">%s</text>`,
			cx, top+plotH+45, color, esc(baselineCaption(sc)))
		for bi, r := range sc.Rows {
			s := serverByName(r.Server)
			s.Label = r.Label
			bx := bx0 + float64(bi*(barW+barGap))
			mid := bx + barW/2
			if r.RatioToBaseline == nil {
				why := strings.ToLower(r.Status)
				if r.Status == statusOK || r.Status == statusStarved {
					why = "no baseline"
				}
				p(`<text transform="translate(%.1f %d) rotate(-90)" font-size="10" fill="#999">%s: %s</text>`,
					mid+3.5, top+plotH-4, esc(s.Label), esc(why))
				continue
			}
			v := *r.RatioToBaseline
			y0 := y(v)
			h := float64(top+plotH) - y0
			fill := serverColors[s.Name]
			label := fmt.Sprintf("%.2f", v)
			labelColor := "#222"
			if !r.ok() {
				fill = "url(#hatch-" + s.Name + ")"
				label += " " + r.Status
				labelColor = "#c0392b"
			}
			p(`<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s" stroke="%s" stroke-width="0.8"><title>%s, %s: %s %s, %.2fx %s, %s</title></rect>`,
				bx, y0, barW, h, fill, serverColors[s.Name], esc(s.Label), esc(sc.Name),
				thousands(r.Median.rate()), sc.unit(), v, esc(sc.BaselineLabel), esc(r.Status))
			if v > ymax {
				// Clipped: a white break across the top of the bar.
				p(`<path d="M %.1f %.1f l %d -4 v 4 l -%d 4 z" fill="#ffffff"/>`, bx-1, y0+10, barW+2, barW+2)
			}
			if v > ymax {
				// Clipped bar: the label goes inside it, below the break.
				labels = append(labels, fmt.Sprintf(`<text transform="translate(%.1f %.1f) rotate(-90)" font-size="10" fill="#ffffff" text-anchor="end">%s</text>`,
					mid+3.5, y0+18, esc(label)))
				continue
			}
			// A white box under the label keeps it readable where it
			// crosses the 1.0 line.
			labels = append(labels, fmt.Sprintf(`<g transform="translate(%.1f %.1f) rotate(-90)"><rect x="-1" y="-9" width="%d" height="11" fill="#ffffff" fill-opacity="0.85"/><text font-size="10" fill="%s">%s</text></g>`,
				mid+3.5, y0-4, textWidth(label, 10)+2, labelColor, esc(label)))
		}
	}
	// The 1.0 line goes over the bars, the labels (with a white halo) over it.
	p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c0392b" stroke-width="1.6" stroke-dasharray="6 3"/>`,
		left, y(1), left+plotW, y(1))
	for _, l := range labels {
		b.WriteString(l + "\n")
	}
	p(`</svg>`)
	return b.String()
}

// baselineCaption is the line under a group: the baseline and its rate.
func baselineCaption(sc ScenarioResult) string {
	if sc.BaselineRow == "" {
		if sc.baselineIsUWSGI() {
			return "no uWSGI baseline"
		}
		return "no baseline"
	}
	b, _ := sc.row(sc.BaselineRow)
	return fmt.Sprintf("= %s %s %s", b.Label, thousands(b.Median.rate()), sc.unit())
}

// niceCeil rounds up to 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, ...
func niceCeil(v float64) float64 {
	for _, n := range []float64{1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= n {
			return n
		}
	}
	return math.Ceil(v/5) * 5
}

// textWidth estimates the width of text in pixels (no font metrics at hand).
func textWidth(s string, size int) int {
	return int(float64(len([]rune(s))*size) * 0.66)
}

func esc(s string) string { return html.EscapeString(s) }
