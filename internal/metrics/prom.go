package metrics

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
)

// PromContentType is the Content-Type of the Prometheus text format 0.0.4.
const PromContentType = "text/plain; version=0.0.4; charset=utf-8"

// promWriter writes the Prometheus text exposition format.
type promWriter struct {
	b bytes.Buffer
}

// family starts a metric family with its HELP and TYPE lines.
func (w *promWriter) family(name, typ, help string) {
	w.b.WriteString("# HELP ")
	w.b.WriteString(name)
	w.b.WriteByte(' ')
	w.b.WriteString(strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help))
	w.b.WriteString("\n# TYPE ")
	w.b.WriteString(name)
	w.b.WriteByte(' ')
	w.b.WriteString(typ)
	w.b.WriteByte('\n')
}

// sample writes one sample; labels are name, value pairs.
func (w *promWriter) sample(name string, v float64, labels ...string) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(labels[i])
			w.b.WriteString(`="`)
			w.b.WriteString(escapeLabel(labels[i+1]))
			w.b.WriteByte('"')
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(formatValue(v))
	w.b.WriteByte('\n')
}

func (w *promWriter) count(name string, v uint64, labels ...string) {
	w.sample(name, float64(v), labels...)
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// writeProm renders st in the Prometheus text format.
func writeProm(st *Stats, workers int) []byte {
	w := &promWriter{}
	total := &st.total

	w.family("gowsgi_requests_total", "counter", "Requests answered, by method and status class.")
	methods := make([]string, 0, len(total.Requests))
	for m := range total.Requests {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		for _, cl := range ClassNames {
			if n, ok := total.Requests[m][cl]; ok {
				w.count("gowsgi_requests_total", n, "method", m, "status", cl)
			}
		}
	}

	w.family("gowsgi_request_duration_seconds", "histogram", "Time from the first byte of a request to the end of its response.")
	var cum uint64
	for i, bound := range total.Latency.Bounds {
		cum += total.Latency.Counts[i]
		w.count("gowsgi_request_duration_seconds_bucket", cum, "le", formatValue(bound))
	}
	cum += total.Latency.Counts[len(total.Latency.Bounds)]
	w.count("gowsgi_request_duration_seconds_bucket", cum, "le", "+Inf")
	w.sample("gowsgi_request_duration_seconds_sum", total.Latency.Sum)
	w.count("gowsgi_request_duration_seconds_count", cum)

	w.family("gowsgi_requests_in_flight", "gauge", "Requests received and not yet answered.")
	w.sample("gowsgi_requests_in_flight", float64(st.InFlight))
	w.family("gowsgi_queue_depth", "gauge", "Requests waiting for a free Python thread.")
	w.sample("gowsgi_queue_depth", float64(st.Queue))

	w.family("gowsgi_bytes_received_total", "counter", "Bytes read from clients.")
	w.count("gowsgi_bytes_received_total", total.BytesIn)
	w.family("gowsgi_bytes_sent_total", "counter", "Bytes written to clients.")
	w.count("gowsgi_bytes_sent_total", total.BytesOut)
	w.family("gowsgi_python_errors_total", "counter", "Errors the application logged through the server (tracebacks, invalid responses).")
	w.count("gowsgi_python_errors_total", total.PythonErrors)

	w.family("gowsgi_worker_restarts_total", "counter", "Worker processes restarted, by cause.")
	for _, cause := range sortedKeys(st.Restarts) {
		w.count("gowsgi_worker_restarts_total", st.Restarts[cause], "cause", cause)
	}

	w.family("gowsgi_ready", "gauge", "1 when at least one worker accepts requests and the server is not draining.")
	w.sample("gowsgi_ready", boolValue(st.Ready))
	w.family("gowsgi_workers", "gauge", "Worker processes configured.")
	w.sample("gowsgi_workers", float64(workers))

	// One process per worker index: during a replacement an index has two,
	// and two series with the same labels would be invalid.
	workersByIndex := onePerIndex(st.Workers)
	w.family("gowsgi_worker_up", "gauge", "1 when the worker answered its control socket.")
	for _, v := range workersByIndex {
		w.sample("gowsgi_worker_up", boolValue(v.counts != nil), "worker", strconv.Itoa(v.Index))
	}
	w.family("gowsgi_worker_ready", "gauge", "1 when the worker has imported the application and accepts requests.")
	for _, v := range workersByIndex {
		w.sample("gowsgi_worker_ready", boolValue(v.Ready), "worker", strconv.Itoa(v.Index))
	}
	w.family("gowsgi_worker_start_time_seconds", "gauge", "Start time of the worker process, in Unix seconds.")
	for _, v := range workersByIndex {
		if !v.StartedAt.IsZero() {
			w.sample("gowsgi_worker_start_time_seconds", float64(v.StartedAt.UnixMilli())/1e3, "worker", strconv.Itoa(v.Index))
		}
	}

	up := make([]WorkerView, 0, len(workersByIndex))
	for _, v := range workersByIndex {
		if v.counts != nil {
			up = append(up, v)
		}
	}
	w.family("gowsgi_worker_requests_total", "counter", "Requests answered by the current process of each worker.")
	for _, v := range up {
		w.count("gowsgi_worker_requests_total", v.Requests, "worker", strconv.Itoa(v.Index))
	}
	w.family("gowsgi_python_threads", "gauge", "Python request threads per worker, by state.")
	for _, v := range up {
		idx := strconv.Itoa(v.Index)
		w.sample("gowsgi_python_threads", float64(v.Busy), "worker", idx, "state", "busy")
		w.sample("gowsgi_python_threads", float64(v.Threads-v.Busy), "worker", idx, "state", "idle")
	}
	w.family("gowsgi_python_admission_limit", "gauge", "Requests each worker lets run Python at once right now: --threads, lowered while requests queue for the GIL.")
	for _, v := range up {
		w.sample("gowsgi_python_admission_limit", float64(v.Admission), "worker", strconv.Itoa(v.Index))
	}
	w.family("gowsgi_worker_resident_memory_bytes", "gauge", "Resident memory of each worker process.")
	for _, v := range up {
		w.count("gowsgi_worker_resident_memory_bytes", v.RSSBytes, "worker", strconv.Itoa(v.Index))
	}
	w.family("gowsgi_python_gc_collections_total", "counter", "Python garbage collections per worker and generation (gc.get_stats).")
	for _, v := range up {
		for gen, n := range v.GCCollections {
			w.count("gowsgi_python_gc_collections_total", n, "worker", strconv.Itoa(v.Index), "generation", strconv.Itoa(gen))
		}
	}

	w.family("gowsgi_build_info", "gauge", "Always 1; the labels say which gowsgi and Python serve.")
	w.sample("gowsgi_build_info", 1, "version", st.Version, "python", st.Python)
	return w.b.Bytes()
}

// onePerIndex keeps, for each worker index, the process that stands for
// it: the newest one that answered and is ready, else the newest that
// answered, else the newest. workers is sorted by index, then generation.
func onePerIndex(workers []WorkerView) []WorkerView {
	rank := func(v *WorkerView) int {
		r := 0
		if v.counts != nil {
			r += 2
		}
		if v.Ready {
			r++
		}
		return r
	}
	var out []WorkerView
	for _, v := range workers {
		if n := len(out); n > 0 && out[n-1].Index == v.Index {
			if rank(&v) >= rank(&out[n-1]) {
				out[n-1] = v
			}
			continue
		}
		out = append(out, v)
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
