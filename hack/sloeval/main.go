// Command sloeval measures what our SLO rules cost Prometheus to evaluate, beside Sloth's rules for the same
// SLOs (issue 14 item 1). Run it by hand from the repository's root, not from `make test`:
//
//	go run ./hack/sloeval -runs 3 -warmup 1m -duration 4m -out docs/sloeval -label before
//
// A quick look, about 6 minutes: -runs 1. Each run takes -warmup plus -duration, after the backfill.
//
// The SLOs are "the standard pair" of one service, api, in namespace default, over 30 days: availability
// 99.9% as a ratio (errors http_requests_total{job="api",code=~"5.."}, total http_requests_total{job="api"})
// and latency 99% within 0.3s on the classic histogram http_request_duration_seconds{job="api"} (buckets
// 0.1, 0.3, 1, +Inf). Ours are `go run . render -o rules` of profile.yaml (this worktree's rules, all the
// groups a profile renders, its manifesto group too); Sloth's are `sloth generate` (v0.16.0, built from the
// Go module proxy into hack/sloeval/bin unless -sloth names one) of the equivalent prometheus/v1 spec, the
// same selectors with {{.window}} (namespace="default" added, as our rules add the profile's namespace; the
// latency errors as a Sloth user writes them, _count minus the bucket le="0.3", where ours match
// le=~"0\\.30*" to take 0.3 however the exporter spells it).
//
// The data: 200 instances (-instances), each with http_requests_total for codes 200, 404, 500 and 503 and the
// histogram's buckets, _count and _sum (10 series each). Every value is a pure function of the instance and
// the time, so that -backfill (4 days) of history, written as OpenMetrics and turned into blocks by
// `promtool tsdb create-blocks-from openmetrics` in the data folder, ends where the live series begin: an
// exporter inside this process serves the same series, scraped with honor_labels every -scrape-interval
// (30s, the backfill's step too), so rate() over short windows has fresh samples and over days the history.
//
// One Prometheus (bin/prometheus-v0.316.0, Prometheus 3) loads both rule files, evaluation interval 30s
// (groups without their own, which are all but our SLO-window groups). Both files in one process, rather than
// one process per rule set in turn, so that the two see the same samples at the same moments, the same head
// and the same background work (compaction of the backfilled blocks, WAL, scrapes): alternating processes
// would give each its own minutes of a busy shared machine. Each run is a fresh process on the same data
// folder; runs alternate which file is loaded first (Prometheus starts groups in file order), and the
// median over -runs (3) is reported. The two never read each other's series: both record
// slo:sli_error:ratio_rate<window>, ours with the labels namespace, service, slo, Sloth's with sloth_id,
// sloth_service, sloth_slo, and each selects on its own labels.
//
// The cost of a rule file, per run: for each of its groups, the mean of prometheus_rule_group_last_duration_seconds
// over the evaluations during the measured -duration (after -warmup; /metrics is read every 5s and an
// evaluation counted once by its prometheus_rule_group_last_evaluation_timestamp_seconds), times
// 60 / prometheus_rule_group_interval_seconds, summed over the groups: evaluation seconds per minute.
// Beside it the groups and rules (prometheus_rule_group_rules) and the samples the rules wrote per minute
// (prometheus_rule_group_last_evaluation_samples; Prometheus does not report the samples a query read).
//
// A rule over a recorded series (our windows since "SLO rules v2", Sloth's 30-day window) reads only as much
// history as the recording has. Without -backfill-recordings (the default is on) a recording starts with the
// first run, and a rule set that builds its windows from recordings is flattered. With it, the recordings
// that read the raw counters and that other rules read back over time (ours: slo:sli_errors:rate5m and
// slo:sli_requests:rate5m; Sloth's: slo:sli_error:ratio_rate5m) are backfilled over the same 4 days by
// `promtool tsdb create-blocks-from rules` against a Prometheus serving the raw history, at the evaluation
// interval, so both rule sets read what they would read after 4 days of running.
//
// It merges its measurement, under -label, into <out>/results.json and rewrites <out>/results.md, and
// prints the table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

// slothVersion is the Sloth release compared with.
const slothVersion = "v0.16.0"

// profileYAML is our side of the standard SLO pair.
const profileYAML = `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: api, namespace: default}
spec:
  service: api
  tier: non-critical
  selector: {matchLabels: {app: api}}
  slos:
    - name: availability
      objective: "99.9"
      window: 30d
      indicator:
        ratio:
          errors: http_requests_total{job="api",code=~"5.."}
          total: http_requests_total{job="api"}
    - name: latency
      objective: "99"
      window: 30d
      indicator:
        latency:
          histogram: http_request_duration_seconds{job="api"}
          threshold: "0.3"
`

// slothSpec is Sloth's side: the same SLIs as a prometheus/v1 spec, the default 30-day period.
const slothSpec = `version: "prometheus/v1"
service: "api"
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="api",namespace="default",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="api",namespace="default"}[{{.window}}]))
    alerting:
      name: APIAvailability
      page_alert: {labels: {severity: page}}
      ticket_alert: {labels: {severity: ticket}}
  - name: "latency"
    objective: 99
    sli:
      events:
        error_query: (sum(rate(http_request_duration_seconds_count{job="api",namespace="default"}[{{.window}}])) - sum(rate(http_request_duration_seconds_bucket{job="api",namespace="default",le="0.3"}[{{.window}}])))
        total_query: sum(rate(http_request_duration_seconds_count{job="api",namespace="default"}[{{.window}}]))
    alerting:
      name: APILatency
      page_alert: {labels: {severity: page}}
      ticket_alert: {labels: {severity: ticket}}
`

// settings are the command's flags.
type settings struct {
	runs                   int
	instances              int
	backfill, scrape, eval time.Duration
	warmUp, duration       time.Duration
	out, label, work       string
	prometheus, promtool   string
	sloth                  string
	backfillRecordings     bool
}

func main() {
	var s settings
	flag.IntVar(&s.runs, "runs", 3, "Prometheus processes to measure, alternating which rule file is loaded first")
	flag.IntVar(&s.instances, "instances", 200, "label-distinct instances of the service")
	flag.DurationVar(&s.backfill, "backfill", 96*time.Hour, "history backfilled before the start")
	flag.DurationVar(&s.scrape, "scrape-interval", 30*time.Second, "scrape interval, and the backfill's step")
	flag.DurationVar(&s.eval, "eval-interval", 30*time.Second, "Prometheus' global evaluation interval")
	flag.DurationVar(&s.warmUp, "warmup", time.Minute, "time after Prometheus is ready before measuring, per run")
	flag.DurationVar(&s.duration, "duration", 4*time.Minute, "measured time per run; with the warm-up at least 5m, the interval of our SLO-window groups, so that each is evaluated")
	flag.StringVar(&s.out, "out", "docs/sloeval", "folder of results.json and results.md")
	flag.StringVar(&s.label, "label", "latest", "the measurement's name in the results (such as before, after)")
	flag.StringVar(&s.work, "work", "", "working folder (data, rule files, logs); a new temporary one if empty, removed at the end")
	flag.StringVar(&s.prometheus, "prometheus", envOr("PROMETHEUS", "bin/prometheus-v0.316.0"), "the Prometheus server")
	flag.StringVar(&s.promtool, "promtool", envOr("PROMTOOL", "bin/promtool-v0.316.0"), "promtool, of the same version")
	flag.BoolVar(&s.backfillRecordings, "backfill-recordings", true, "backfill the 5m recordings other rules read back (ours and Sloth's) over the history, so that both read what they would after running that long")
	flag.StringVar(&s.sloth, "sloth", "", "a sloth "+slothVersion+" binary; built into hack/sloeval/bin if empty")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if err := run(s); err != nil {
		log.Fatal(err)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(s settings) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository's root: go run ./hack/sloeval")
	}
	work := s.work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "sloeval-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	// Prometheus reads rule files relative to its configuration's folder and labels groups with the path.
	work, err := filepath.Abs(work)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	ours, slothRules, err := ruleFiles(s, work)
	if err != nil {
		return err
	}

	start := time.Now().Truncate(s.scrape)
	w := workload{Job: "api", Namespace: "default", Instances: s.instances, Origin: start.Add(-s.backfill)}
	exporter, err := serve(w)
	if err != nil {
		return err
	}
	defer exporter.Close()
	data := filepath.Join(work, "data")
	log.Printf("Backfilling %s of %d series", s.backfill, w.seriesCount())
	if err := backfill(s, w, start, work, data); err != nil {
		return err
	}
	if s.backfillRecordings {
		log.Printf("Backfilling the 5m recordings of both rule sets over %s", s.backfill)
		if err := backfillRecordings(s, work, data, w.Origin, start, ours, slothRules); err != nil {
			return err
		}
	}

	m := Measurement{Label: s.label, Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Commit: commit(),
		Prometheus: version(s.prometheus), Sloth: "sloth " + slothVersion,
		Settings: Settings{Instances: s.instances, Series: w.seriesCount(), Backfill: s.backfill.String(),
			ScrapeInterval: s.scrape.String(), EvalInterval: s.eval.String(), WarmUp: s.warmUp.String(),
			Duration: s.duration.String(), CPUs: runtime.NumCPU(), RecordingsBackfilled: s.backfillRecordings}}
	for i := 1; i <= s.runs; i++ {
		first := "ours"
		files := []string{ours, slothRules}
		if i%2 == 0 {
			first, files = "sloth", []string{slothRules, ours}
		}
		obs, err := measure(s, work, data, exporter.Addr().String(), files, i)
		if err != nil {
			return err
		}
		r := Run{Run: i, FirstFile: first, Ours: obs.Cost(ours), Sloth: obs.Cost(slothRules)}
		log.Printf("Measured run %d: ours %.4f, Sloth %.4f eval s/min", i, r.Ours.EvalSecondsPerMinute, r.Sloth.EvalSecondsPerMinute)
		m.Runs = append(m.Runs, r)
	}
	fmt.Print(m.Table())
	return writeResults(s.out, m)
}

// ruleFiles writes our rules and Sloth's for the standard pair into work and returns their paths.
func ruleFiles(s settings, work string) (ours, sloth string, err error) {
	profile := filepath.Join(work, "profile.yaml")
	spec := filepath.Join(work, "sloth.yaml")
	ours = filepath.Join(work, "ours.rules.yaml")
	sloth = filepath.Join(work, "sloth.rules.yaml")
	if err := os.WriteFile(profile, []byte(profileYAML), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(spec, []byte(slothSpec), 0o644); err != nil {
		return "", "", err
	}
	rules, err := output(exec.Command("go", "run", ".", "render", "-o", "rules", "-f", profile))
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(ours, rules, 0o644); err != nil {
		return "", "", err
	}
	bin := s.sloth
	if bin == "" {
		if bin, err = buildSloth(); err != nil {
			return "", "", err
		}
	}
	if _, err := output(exec.Command(bin, "generate", "--no-log", "-i", spec, "-o", sloth)); err != nil {
		return "", "", err
	}
	for _, f := range []string{ours, sloth} {
		if _, err := output(exec.Command(s.promtool, "check", "rules", f)); err != nil {
			return "", "", err
		}
	}
	return ours, sloth, nil
}

// buildSloth installs Sloth from the Go module proxy into hack/sloeval/bin, once.
func buildSloth() (string, error) {
	dir, err := filepath.Abs(filepath.Join("hack", "sloeval", "bin"))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sloth")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	log.Printf("Building sloth %s", slothVersion)
	cmd := exec.Command("go", "install", "github.com/slok/sloth/cmd/sloth@"+slothVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if _, err := output(cmd); err != nil {
		return "", err
	}
	return bin, nil
}

// serve starts the exporter of the live series on a free local port.
func serve(w workload) (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = rw.Write(w.Exposition(time.Now()))
	})
	go func() { _ = http.Serve(l, mux) }()
	return l, nil
}

// backfill writes the history up to start as blocks in data. One block duration covers the whole history
// (promtool reads the input once per block duration), so Prometheus has no small blocks to compact while it
// is measured.
func backfill(s settings, w workload, start time.Time, work, data string) error {
	om := filepath.Join(work, "history.om.txt")
	f, err := os.Create(om)
	if err != nil {
		return err
	}
	if err := w.WriteOpenMetrics(f, start, s.scrape); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	defer os.Remove(om)
	_, err = output(exec.Command(s.promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=162h", om, data))
	return err
}

// readBack are the recordings other rules read over time: ours build every window from the 5m rates, and
// Sloth's 30-day window sums its 5m ratio.
var readBack = regexp.MustCompile(`^slo:(sli_errors:rate5m|sli_requests:rate5m|sli_error:ratio_rate5m)$`)

// backfillRecordings writes the read-back recordings of both rule files over (from, to] into data: a
// Prometheus without rules or scrapes serves the raw history, and promtool evaluates the recordings against it.
func backfillRecordings(s settings, work, data string, from, to time.Time, files ...string) error {
	recordings := filepath.Join(work, "read-back.rules.yaml")
	if err := writeReadBack(recordings, files...); err != nil {
		return err
	}
	config := filepath.Join(work, "prometheus-backfill.yml")
	if err := os.WriteFile(config, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		return err
	}
	addr, stop, err := startPrometheus(s, config, data, filepath.Join(work, "prometheus-backfill.log"))
	if err != nil {
		return err
	}
	defer stop()
	blocks := filepath.Join(work, "recorded")
	if _, err := output(exec.Command(s.promtool, "tsdb", "create-blocks-from", "rules",
		"--url=http://"+addr, "--start="+strconv.FormatInt(from.Unix(), 10), "--end="+strconv.FormatInt(to.Unix(), 10),
		"--eval-interval="+s.eval.String(), "--output-dir="+blocks, recordings)); err != nil {
		return err
	}
	stop()
	entries, err := os.ReadDir(blocks)
	if err != nil {
		return err
	}
	moved := 0
	for _, e := range entries {
		if e.IsDir() {
			if err := os.Rename(filepath.Join(blocks, e.Name()), filepath.Join(data, e.Name())); err != nil {
				return err
			}
			moved++
		}
	}
	if moved == 0 {
		return fmt.Errorf("promtool wrote no block of recordings into %s", blocks)
	}
	return nil
}

// writeReadBack writes one rule file of the read-back recordings of the given files, each group's name
// prefixed by its file's so that the two never clash.
func writeReadBack(path string, files ...string) error {
	type ruleFile struct {
		Groups []struct {
			Name  string           `json:"name"`
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, g := range rf.Groups {
			var rules []map[string]any
			for _, r := range g.Rules {
				if name, _ := r["record"].(string); readBack.MatchString(name) {
					rules = append(rules, r)
				}
			}
			if len(rules) > 0 {
				out = append(out, map[string]any{"name": filepath.Base(f) + "/" + g.Name, "rules": rules})
			}
		}
	}
	if len(out) == 0 {
		return errors.New("no read-back recording in the rule files")
	}
	b, err := yaml.Marshal(map[string]any{"groups": out})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// startPrometheus starts the server on data with the configuration and waits until it is ready; stop ends it
// (and may be called twice).
func startPrometheus(s settings, config, data, logPath string) (addr string, stop func(), err error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(s.prometheus, "--config.file="+config, "--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=60d", "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", nil, err
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			logFile.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		if b, err := get(ctx, "http://"+addr+"/-/ready"); err == nil && strings.Contains(string(b), "Ready") {
			return addr, stop, nil
		}
		if ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("Prometheus was not ready in 5 minutes (see %s)", logPath)
		}
		time.Sleep(time.Second)
	}
}

// prometheusConfig scrapes the exporter and loads the rule files in their order.
func prometheusConfig(s settings, exporter string, files []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", s.scrape, s.eval)
	b.WriteString("rule_files:\n")
	for _, f := range files {
		fmt.Fprintf(&b, "  - %q\n", f)
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: api\n    honor_labels: true\n    static_configs:\n"+
		"      - targets: [%q]\n        labels: {namespace: default, service: api}\n", exporter)
	return b.String()
}

// measure runs one Prometheus on data with the rule files, waits out the warm-up and gathers the groups'
// evaluations for the measured duration.
func measure(s settings, work, data, exporter string, files []string, i int) (*groupObservations, error) {
	config := filepath.Join(work, fmt.Sprintf("prometheus-%d.yml", i))
	if err := os.WriteFile(config, []byte(prometheusConfig(s, exporter, files)), 0o644); err != nil {
		return nil, err
	}
	addr, stop, err := startPrometheus(s, config, data, filepath.Join(work, fmt.Sprintf("prometheus-%d.log", i)))
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", i, err)
	}
	defer stop()
	base := "http://" + addr
	log.Printf("Run %d: Prometheus ready, warming up for %s, then measuring for %s", i, s.warmUp, s.duration)
	obs := newGroupObservations()
	ready := time.Now()
	for end := ready.Add(s.warmUp + s.duration); time.Now().Before(end); time.Sleep(5 * time.Second) {
		page, err := get(context.Background(), base+"/metrics")
		if err != nil {
			return nil, err
		}
		obs.WarmUp = time.Since(ready) < s.warmUp
		obs.Add(page)
	}
	return obs, nil
}

func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// output runs a command and returns its standard output; its standard error is in the error.
func output(cmd *exec.Cmd) ([]byte, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return out, nil
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func version(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return bin
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}
