package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Run is one N's results; results.json holds one per N. hack/bench/plot reads the fields it draws by their
// JSON names.
type Run struct {
	N                  int       `json:"n"`
	Namespaces         int       `json:"namespaces"`
	ChildrenPerProfile int       `json:"childrenPerProfile"`
	Concurrency        int       `json:"concurrency"`
	Date               string    `json:"date"`
	CPUs               int       `json:"cpus"`
	OperatorFlags      string    `json:"operatorFlags,omitempty"`
	IdleSeconds        float64   `json:"idleSeconds"`
	Yardstick          Yardstick `json:"yardstick"`
	Startup            Phase     `json:"startup"`
	Create             Phase     `json:"create"`
	Update             Phase     `json:"update"`
	Idle               Phase     `json:"idle"`
	Targets            []Target  `json:"targets"`
}

// Yardstick is the bare API server's rate for the same creates as the operator's, by the same client.
type Yardstick struct {
	Creates   int     `json:"creates"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
}

// Phase is what one phase took. Its requests and reconciles count from its start until the operator settled
// (its queue empty and no reconcile for -quiet), its memory figures at that end.
type Phase struct {
	Name string `json:"name"`
	// ConvergeSeconds: until every profile was converged; SettleSeconds: until the last reconcile of it;
	// WallSeconds: until its end.
	ConvergeSeconds   float64             `json:"convergeSeconds"`
	SettleSeconds     float64             `json:"settleSeconds"`
	WallSeconds       float64             `json:"wallSeconds"`
	ChangedChildren   int                 `json:"changedChildren,omitempty"`
	ChildrenPerSecond float64             `json:"childrenPerSecond,omitempty"`
	Reconciles        float64             `json:"reconciles"`
	OperatorRequests  float64             `json:"operatorRequests"`
	AuditedRequests   float64             `json:"auditedRequests"`
	Requests          map[string]Requests `json:"requests"` // by "verb resource"
	PeakRSSMiB        float64             `json:"peakRSSMiB"`
	RSSMiB            float64             `json:"rssMiB"`
	HeapInuseMiB      float64             `json:"heapInuseMiB"`
	PeakHeapInuseMiB  float64             `json:"peakHeapInuseMiB"`
}

// Requests of one verb and resource, counted at the operator's client and at the API server. The operator
// tells applies and dry runs from other patches (-dryrun); the audit log calls them all patch.
type Requests struct {
	Operator float64 `json:"operator"`
	Audited  float64 `json:"audited"`
}

// Target is one of issue 13's targets, and how far this run is from it.
type Target struct {
	Name  string  `json:"name"`
	Limit float64 `json:"limit"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Met   bool    `json:"met"`
}

// mib is a limit in megabytes (10^6 bytes, as the issue states them) in MiB, as /proc reports memory.
func mib(megabytes float64) float64 { return math.Round(megabytes*1e6/(1<<20)*10) / 10 }

// targets are issue 13's targets that apply to a run of N profiles: the time and memory ones are stated
// for 1,000 and 10,000 profiles only, the request ones for every N.
func targets(r *Run) []Target {
	var out []Target
	add := func(name string, limit, value float64, unit string) {
		out = append(out, Target{Name: name, Limit: limit, Value: value, Unit: unit, Met: value <= limit})
	}
	switch r.N {
	case 1000:
		add("create converges", 13, r.Create.ConvergeSeconds, "s")
		add("update converges", 6, r.Update.ConvergeSeconds, "s")
		add("peak RSS", mib(80), r.Idle.PeakRSSMiB, "MiB")
	case 10000:
		add("create converges", 150, r.Create.ConvergeSeconds, "s")
		add("peak RSS", mib(400), r.Idle.PeakRSSMiB, "MiB")
	}
	// At most one request per changed child plus one status write per changed profile. Watches and discovery
	// are left out: an informer's re-watch (every few minutes) or a lazily started one falls into whichever
	// phase it happens in, and neither grows with what changed; the tables show them.
	createBudget := float64(r.N*r.ChildrenPerProfile + r.N)
	updateBudget := float64(r.N + r.N)
	createOp, createAudited := r.Create.perObjectRequests()
	updateOp, updateAudited := r.Update.perObjectRequests()
	add("create requests, operator's client (≤ 1 per child + 1 status write per profile; watches apart)", createBudget, createOp, "requests")
	add("create requests, audited at the API server (watches apart)", createBudget, createAudited, "requests")
	add("update requests, operator's client (≤ 1 per changed child + 1 status write per profile; watches apart)", updateBudget, updateOp, "requests")
	add("update requests, audited at the API server (watches apart)", updateBudget, updateAudited, "requests")
	idle := time.Duration(r.IdleSeconds * float64(time.Second)).String()
	add("idle requests over "+idle+", operator's client (target over 10m)", 0, r.Idle.OperatorRequests, "requests")
	add("idle requests over "+idle+", audited at the API server (target over 10m)", 0, r.Idle.AuditedRequests, "requests")
	return out
}

// perObjectRequests are the phase's requests at each counter but watches and discovery.
func (p Phase) perObjectRequests() (operator, audited float64) {
	for key, r := range p.Requests {
		if strings.HasPrefix(key, "watch ") || strings.HasSuffix(key, " discovery") {
			continue
		}
		operator, audited = operator+r.Operator, audited+r.Audited
	}
	return operator, audited
}

// distance is how far a value is over its limit (or under, when met).
func (t Target) distance() string {
	d := t.Value - t.Limit
	if t.Limit == 0 {
		return fmt.Sprintf("%+g %s", d, t.Unit)
	}
	return fmt.Sprintf("%+.1f %s (%.0f%% of the limit)", d, t.Unit, 100*t.Value/t.Limit)
}

// markdown is a run's tables: the phases, the targets, and where the requests went.
func markdown(r *Run) string {
	var b strings.Builder
	n := float64(r.N)
	fmt.Fprintf(&b, "### N = %d profiles × %d children, %d namespaces (%s, %d CPUs, client concurrency %d",
		r.N, r.ChildrenPerProfile, r.Namespaces, r.Date[:10], r.CPUs, r.Concurrency)
	if r.OperatorFlags != "" {
		fmt.Fprintf(&b, ", operator flags %s", r.OperatorFlags)
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(&b, "Yardstick, the bare API server: %d plain creates of the same children in %.1f s, **%.0f children/s**.\n\n",
		r.Yardstick.Creates, r.Yardstick.Seconds, r.Yardstick.PerSecond)
	b.WriteString("| phase | converge s | settle s | wall s | children/s | reconciles/profile | requests/profile (operator) | requests/profile (audited) | peak RSS MiB | heap in use MiB (peak) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range []Phase{r.Startup, r.Create, r.Update, r.Idle} {
		rate := "—"
		if p.ChildrenPerSecond > 0 {
			rate = fmt.Sprintf("%.0f (%.0f%% of the yardstick)", p.ChildrenPerSecond, 100*p.ChildrenPerSecond/r.Yardstick.PerSecond)
		}
		name := p.Name
		if p.Name == "idle" {
			name = fmt.Sprintf("idle %s", time.Duration(r.IdleSeconds*float64(time.Second)))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %s | %.2f | %.2f | %.2f | %.1f | %.1f (%.1f) |\n", name, seconds(p.ConvergeSeconds), seconds(p.SettleSeconds),
			p.WallSeconds, rate, p.Reconciles/n, p.OperatorRequests/n, p.AuditedRequests/n, p.PeakRSSMiB, p.HeapInuseMiB, p.PeakHeapInuseMiB)
	}
	b.WriteString("\n| target | limit | value | met | distance |\n|---|---:|---:|---|---|\n")
	for _, t := range r.Targets {
		met := "**not met**"
		if t.Met {
			met = "met"
		}
		fmt.Fprintf(&b, "| %s | %g %s | %.1f %s | %s | %s |\n", t.Name, t.Limit, t.Unit, t.Value, t.Unit, met, t.distance())
	}
	b.WriteString("\nRequests by verb and resource (per profile; the operator counts applies and dry runs apart, the audit log calls them patch):\n\n")
	b.WriteString("| phase | verb resource | operator | audited | operator/profile | audited/profile |\n|---|---|---:|---:|---:|---:|\n")
	for _, p := range []Phase{r.Startup, r.Create, r.Update, r.Idle} {
		keys := make([]string, 0, len(p.Requests))
		for k := range p.Requests {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q := p.Requests[k]
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.3f | %.3f |\n", p.Name, k, q.Operator, q.Audited, q.Operator/n, q.Audited/n)
		}
		if len(keys) == 0 {
			fmt.Fprintf(&b, "| %s | none | 0 | 0 | 0 | 0 |\n", p.Name)
		}
	}
	return b.String()
}

func seconds(s float64) string {
	if s == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", s)
}

func readResults(path string) ([]*Run, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []*Run
	if err := json.Unmarshal(b, &runs); err != nil {
		return nil, fmt.Errorf("%s: %w (move it away to start anew)", path, err)
	}
	return runs, nil
}

// merge replaces the run of the same N, so that each N's latest run is kept, in order of N.
func merge(runs []*Run, r *Run) []*Run {
	out := []*Run{r}
	for _, old := range runs {
		if old.N != r.N {
			out = append(out, old)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N < out[j].N })
	return out
}

func writeResults(dir string, runs []*Run) error {
	b, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	md.WriteString("# Scale benchmark results\n\nWritten by `go run ./hack/bench`; see README, \"Scale benchmark\".\n\n")
	for _, r := range runs {
		md.WriteString(markdown(r) + "\n")
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644)
}
