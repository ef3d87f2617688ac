package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Prometheus is a real Prometheus 3 server (the one `make test` builds into bin/, or $PROMETHEUS) for one test,
// listening on loopback only.
type Prometheus struct {
	URL string
}

// StartPrometheus backfills the OpenMetrics samples into a fresh TSDB with `promtool tsdb create-blocks-from
// openmetrics`, then starts Prometheus on it with the given rule files (file name → content), evaluated
// every second. It is stopped when the test ends.
func StartPrometheus(t *testing.T, openMetrics string, ruleFiles map[string]string) *Prometheus {
	t.Helper()
	return StartPrometheusAt(t, FreeAddress(t), openMetrics, ruleFiles)
}

// FreeAddress is a loopback address with a free port, for a server a test starts later.
func FreeAddress(t testing.TB) string {
	t.Helper()
	addr, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// StartPrometheusAt is StartPrometheus on the given address.
func StartPrometheusAt(t *testing.T, addr, openMetrics string, ruleFiles map[string]string) *Prometheus {
	t.Helper()
	return StartPrometheusScraping(t, addr, openMetrics, ruleFiles)
}

// ScrapeJob is a scrape job of static targets, every second, whose series all get the given target labels
// (such as namespace and service, which a ServiceMonitor's relabeling would set).
type ScrapeJob struct {
	Name    string
	Targets []string
	Labels  map[string]string
}

// StartPrometheusScraping is StartPrometheusAt that also scrapes the given jobs, so that up and the targets'
// own series are real scrapes.
func StartPrometheusScraping(t *testing.T, addr, openMetrics string, ruleFiles map[string]string, jobs ...ScrapeJob) *Prometheus {
	t.Helper()
	bin := prometheusBinary(t, "PROMETHEUS", "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	input := filepath.Join(dir, "backfill.om")
	if openMetrics != "" { // nothing to backfill: Prometheus starts on an empty TSDB
		write(t, input, openMetrics)
		if out, err := exec.Command(Promtool(t), "tsdb", "create-blocks-from", "openmetrics", input, data).CombinedOutput(); err != nil {
			t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
		}
	}
	var names []string
	for name, content := range ruleFiles {
		write(t, filepath.Join(dir, name), content)
		names = append(names, fmt.Sprintf("%q", filepath.Join(dir, name)))
	}
	config := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  evaluation_interval: 1s\n  scrape_interval: 1s\nrule_files: [%s]\n", strings.Join(names, ", "))
	if len(jobs) > 0 {
		var configs []map[string]any
		for _, j := range jobs {
			configs = append(configs, map[string]any{"job_name": j.Name, "scrape_timeout": "500ms",
				"static_configs": []map[string]any{{"targets": j.Targets, "labels": j.Labels}}})
		}
		b, err := json.Marshal(configs) // JSON is YAML
		if err != nil {
			t.Fatal(err)
		}
		conf += "scrape_configs: " + string(b) + "\n"
	}
	write(t, config, conf)

	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+data, "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=60d")
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
	})
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Prometheus{URL: url}
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("prometheus was not ready after 30s: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RequestTraffic is two hours, up to end, of http_requests_total for a job in a namespace: requestsPerSecond
// in all, errorShare of them with code 500, as OpenMetrics for StartPrometheus.
func RequestTraffic(job, namespace string, end time.Time, requestsPerSecond, errorShare float64) string {
	start := end.Add(-2 * time.Hour)
	series := func(code string) string {
		return fmt.Sprintf(`http_requests_total{job=%q,namespace=%q,code=%q}`, job, namespace, code)
	}
	ok := func(time.Time) float64 { return requestsPerSecond * (1 - errorShare) }
	failed := func(time.Time) float64 { return requestsPerSecond * errorShare }
	return CounterSamples(series("200"), start, end, 15*time.Second, ok) +
		CounterSamples(series("500"), start, end, 15*time.Second, failed) + "# EOF\n"
}

// CounterSamples writes OpenMetrics samples of a counter that grows by perSecond(t) every step, from start
// to end.
func CounterSamples(series string, start, end time.Time, step time.Duration, perSecond func(time.Time) float64) string {
	var b strings.Builder
	var total float64
	for ts := start; !ts.After(end); ts = ts.Add(step) {
		fmt.Fprintf(&b, "%s %g %d\n", series, total, ts.Unix())
		total += perSecond(ts) * step.Seconds()
	}
	return b.String()
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
