package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The operator as users run it, its own binary in its own process, for the benchmarks: the memory
// benchmark of internal/operator and the scale benchmark of hack/bench share this one copy. These return
// errors instead of failing a testing.TB, as hack/bench is a program.

// BuildOperator builds the operator's binary from main.go into dir, as the Dockerfile builds the image's
// (static, trimmed paths, no symbol table or DWARF), so that its memory is the shipped binary's.
func BuildOperator(dir string) (string, error) {
	binary := filepath.Join(dir, "reliability-operator")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, ".")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return binary, nil
}

// OperatorProcess is the operator's binary running as a process of its own.
type OperatorProcess struct {
	Started    time.Time
	MetricsURL string
	Log        string // the file of its standard output and error
	cmd        *exec.Cmd
	exited     chan error
	logFile    *os.File
}

// StartOperator runs the binary as the envtest user, as `make run` does (no leader election, no webhook),
// with its metrics and probes on free loopback ports, and waits until it is ready. args are added to its
// flags (--kube-api-qps), extraEnv to its environment (GOMEMLIMIT). Stop it with Stop.
func StartOperator(env *envtest.Environment, binary, dir, user string, args, extraEnv []string) (*OperatorProcess, error) {
	// A user of its own, so that the API server's audit log tells its requests from the harness's.
	u, err := env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := u.KubeConfig()
	if err != nil {
		return nil, err
	}
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	metrics, err := freeAddress()
	if err != nil {
		return nil, err
	}
	probes, err := freeAddress()
	if err != nil {
		return nil, err
	}
	flags := append([]string{"--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + probes,
		"--leader-elect=false", "--validating-webhook=false"}, args...)
	cmd := exec.Command(binary, flags...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfigPath), extraEnv...)
	logPath := filepath.Join(dir, "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p := &OperatorProcess{Started: time.Now(), MetricsURL: "http://" + metrics + "/metrics", Log: logPath,
		cmd: cmd, exited: make(chan error, 1), logFile: logFile}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	go func() { p.exited <- cmd.Wait() }()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Second) {
		select {
		case err := <-p.exited:
			p.exited <- err
			return nil, fmt.Errorf("the operator exited: %v; its log: %s", err, logPath)
		default:
		}
		if _, err := httpGet("http://" + probes + "/readyz"); err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("the operator was not ready after 5 minutes; its log: %s", logPath)
		}
	}
}

// Stop ends the process with SIGTERM, as the kubelet does, and kills it if it has not exited in 30 seconds.
func (p *OperatorProcess) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_ = p.logFile.Close()
}

// Scrape reads the operator's /metrics, by metric name.
func (p *OperatorProcess) Scrape() (map[string]*dto.MetricFamily, error) {
	text, err := httpGet(p.MetricsURL)
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", p.MetricsURL, err)
	}
	return families, nil
}

// Metric is the sum of the samples of a metric on the operator's /metrics whose labels include match
// (every sample when match is empty), over all their other labels. A metric that is missing is an error:
// a misspelt name would otherwise read as 0.
func (p *OperatorProcess) Metric(name string, match ...string) (float64, error) {
	families, err := p.Scrape()
	if err != nil {
		return 0, err
	}
	f, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("no %s on the operator's /metrics", name)
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if HasLabels(m, match...) {
			sum += SampleValue(m)
		}
	}
	return sum, nil
}

// WaitSettled waits until the operator has nothing left to do: its work queues are empty and no reconcile
// ended for quiet. A profile's status is written before the reconciles that its own write and its children's
// events ask for have run, so converged (every status current) is not yet idle. It returns when it settled.
func (p *OperatorProcess) WaitSettled(quiet, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	reconciles, since := -1.0, time.Now()
	for ; ; time.Sleep(time.Second) {
		now, err := p.Metric("controller_runtime_reconcile_total")
		if err != nil {
			return time.Time{}, err
		}
		depth, err := p.Metric("workqueue_depth")
		if err != nil {
			return time.Time{}, err
		}
		if now != reconciles || depth != 0 {
			reconciles, since = now, time.Now()
		} else if time.Since(since) >= quiet {
			return since, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("still reconciling after %s (%v reconciles, queue depth %v); the operator's log: %s", timeout, now, depth, p.Log)
		}
	}
}

// HasLabels tells whether the sample has each label of the name, value pairs.
func HasLabels(m *dto.Metric, nameValues ...string) bool {
	for i := 0; i+1 < len(nameValues); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == nameValues[i] && l.GetValue() == nameValues[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// SampleValue is a counter's, gauge's or untyped sample's value.
func SampleValue(m *dto.Metric) float64 {
	return m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
}

// ProcStatus is a memory figure of the process's /proc/<pid>/status (VmHWM, the peak RSS; VmRSS; RssFile),
// in MiB.
func (p *OperatorProcess) ProcStatus(field string) (float64, error) {
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
}

// Concurrently calls do on every item, at most workers at a time, as a client of many objects (a GitOps
// sync, a controller's batch) would, and returns the first errors joined.
func Concurrently[T any](items []T, workers int, do func(T) error) error {
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				errs[i] = do(items[i])
			}
		})
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	// The first few: a systematic error would otherwise be repeated for every item.
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 3 {
		failed = append(failed[:3], fmt.Errorf("and %d more errors", len(failed)-3))
	}
	return errors.Join(failed...)
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}
