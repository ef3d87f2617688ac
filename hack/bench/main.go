// Command bench is the operator's scale benchmark (issue 13): for each N, on a fresh envtest control plane
// and a fresh operator process (the binary as the Dockerfile builds it), it creates N profiles like
// config/samples' checkout (4 children each), updates every profile's objective, then leaves them idle, and
// reports each phase's time, requests by verb and resource (at the API server, from its audit log, and at the
// operator's client, from reliability_operator_kube_requests_total), reconciles, peak RSS and Go heap, beside
// the bare API server's rate for as many plain creates of the same children. Run by hand, not by `make test`:
//
//	go run ./hack/bench -n 1000,5000,10000 -idle 10m -out docs/bench
//
// It writes <out>/results.md, <out>/results.json (merged by N with an earlier one, so that each N may be run
// on its own) and <out>/scale.png, drawn by the separate module hack/bench/plot so that the operator's go.mod
// gains no plotting dependencies.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// settings are the command's flags.
type settings struct {
	counts        []int
	namespaces    int
	concurrency   int
	idle          time.Duration
	quiet         time.Duration
	timeout       time.Duration
	out           string
	operatorFlags []string
	keep          bool
}

func main() {
	s, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := run(s); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (settings, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	counts := fs.String("n", "1000", "comma-separated numbers of profiles, one run (a fresh control plane and operator) each")
	s := settings{}
	fs.IntVar(&s.namespaces, "namespaces", 10, "namespaces the profiles are spread over")
	fs.IntVar(&s.concurrency, "concurrency", 32, "requests the benchmark's client sends at once, for the profiles and the yardstick alike")
	fs.DurationVar(&s.idle, "idle", 10*time.Minute, "how long the converged profiles are left idle while requests are counted (the target is for 10m)")
	fs.DurationVar(&s.quiet, "quiet", 5*time.Second, "a phase ends once the operator's queue is empty and no reconcile ended for this long")
	fs.DurationVar(&s.timeout, "timeout", 30*time.Minute, "how long a phase may take to converge before the run fails")
	fs.StringVar(&s.out, "out", "docs/bench", "folder of results.md, results.json and scale.png")
	opFlags := fs.String("operator-flags", "", "space-separated flags added to the operator's (such as --kube-api-qps=200); none: as users run it")
	fs.BoolVar(&s.keep, "keep", false, "keep each run's folder (audit log, operator log) instead of removing it")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	for _, c := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return s, fmt.Errorf("-n %q: %q is not a positive number", *counts, c)
		}
		s.counts = append(s.counts, n)
	}
	if s.namespaces <= 0 || s.concurrency <= 0 {
		return s, fmt.Errorf("-namespaces and -concurrency must be positive")
	}
	s.operatorFlags = strings.Fields(*opFlags)
	return s, nil
}

func run(s settings) error {
	ctrl.SetLogger(logr.Discard()) // envtest's own messages
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	buildDir, err := os.MkdirTemp("", "bench-build-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(buildDir) }()
	logf("Building the operator's binary")
	binary, err := testenv.BuildOperator(buildDir)
	if err != nil {
		return err
	}
	resultsPath := filepath.Join(s.out, "results.json")
	all, err := readResults(resultsPath)
	if err != nil {
		return err
	}
	for _, n := range s.counts {
		r, err := runOne(s, binary, n)
		if err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
		fmt.Println(markdown(r))
		all = merge(all, r)
		// Written after every run, so that a later run that fails keeps the earlier ones.
		if err := writeResults(s.out, all); err != nil {
			return err
		}
	}
	if err := plot(resultsPath, filepath.Join(s.out, "scale.png")); err != nil {
		// The numbers stand without the picture; the module proxy may be out of reach.
		logf("Drew no plot: %v", err)
	}
	return nil
}

// plot runs the plotting module hack/bench/plot on the results.
func plot(results, png string) error {
	in, err := filepath.Abs(results)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "run", ".", "-in", in, "-out", out)
	cmd.Dir = filepath.Join(testenv.RepoRoot(), "hack", "bench", "plot")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	logf("Drew %s", png)
	return nil
}

// logf reports progress on standard error; standard output holds the results only.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}
