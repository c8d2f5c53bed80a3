package promcheck

import (
	"strings"
	"testing"
)

const good = `# HELP req_total Requests, with a \\ and a\nnewline.
# TYPE req_total counter
req_total{method="GET",status="2xx"} 3
req_total{method="a\"b\\c\nd",status="5xx"} 0
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 1
lat_seconds_bucket{le="1"} 2
lat_seconds_bucket{le="+Inf"} 2
lat_seconds_sum 0.6
lat_seconds_count 2
# TYPE g gauge
g -1.5e-3 1700000000000
g{x="y"} NaN
`

func TestParseAcceptsValidText(t *testing.T) {
	fams, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Value(fams, "req_total", "method", "GET", "status", "2xx"); !ok || v != 3 {
		t.Fatalf("req_total = %v %v", v, ok)
	}
	if v, ok := Value(fams, "req_total", "method", "a\"b\\c\nd", "status", "5xx"); !ok || v != 0 {
		t.Fatalf("escaped labels not decoded: %v %v", v, ok)
	}
	if v, ok := Value(fams, "lat_seconds_count"); !ok || v != 2 {
		t.Fatalf("lat_seconds_count = %v %v", v, ok)
	}
	if fams["req_total"].Help != "Requests, with a \\ and a\nnewline." {
		t.Fatalf("help %q", fams["req_total"].Help)
	}
}

func TestParseRejects(t *testing.T) {
	for name, text := range map[string]string{
		"no final newline":        "g 1",
		"bad name":                "1g 1\n",
		"unquoted label":          "g{a=b} 1\n",
		"bad escape":              `g{a="\t"} 1` + "\n",
		"duplicate label":         `g{a="1",a="2"} 1` + "\n",
		"duplicate series":        "g 1\ng 2\n",
		"bad value":               "g one\n",
		"two spaces":              "g  1\n",
		"type after samples":      "g 1\n# TYPE g gauge\n",
		"unknown type":            "# TYPE g thing\n",
		"interleaved families":    "a 1\nb 1\na{x=\"1\"} 2\n",
		"negative counter":        "# TYPE c_total counter\nc_total -1\n",
		"bucket counts go down":   "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"no +Inf bucket":          "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
		"count differs from +Inf": "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		"no sum":                  "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
		"bounds not increasing":   "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"reserved label":          `g{__x="1"} 1` + "\n",
	} {
		if _, err := Parse(text); err == nil {
			t.Errorf("%s: accepted %q", name, text)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: empty error", name)
		}
	}
}
