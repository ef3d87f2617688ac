package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Run is one Prometheus process with both rule files loaded, measured after its warm-up.
type Run struct {
	Run       int         `json:"run"`
	FirstFile string      `json:"firstFile"` // "ours" or "sloth": the rule file Prometheus was given first
	Ours      RuleSetCost `json:"ours"`
	Sloth     RuleSetCost `json:"sloth"`
}

// Ratio is ours over Sloth's evaluation seconds per minute.
func (r Run) Ratio() float64 { return ratio(r.Ours.EvalSecondsPerMinute, r.Sloth.EvalSecondsPerMinute) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Measurement is one invocation: its runs, under a label such as "before" or "after".
type Measurement struct {
	Label      string   `json:"label"`
	Date       string   `json:"date"`
	Commit     string   `json:"commit"` // of this worktree when the rules were rendered
	Prometheus string   `json:"prometheus"`
	Sloth      string   `json:"sloth"`
	Settings   Settings `json:"settings"`
	Runs       []Run    `json:"runs"`
}

// Settings are what a measurement's numbers depend on.
type Settings struct {
	Instances      int    `json:"instances"`
	Series         int    `json:"series"`
	Backfill       string `json:"backfill"`
	ScrapeInterval string `json:"scrapeInterval"`
	EvalInterval   string `json:"evalInterval"`
	WarmUp         string `json:"warmUp"`
	Duration       string `json:"duration"`
	CPUs           int    `json:"cpus"`
	// RecordingsBackfilled is true when the read-back recordings had the history backfilled too.
	RecordingsBackfilled bool `json:"recordingsBackfilled"`
}

// Medians are the median over the runs of ours, Sloth's and the ratio's evaluation seconds per minute.
func (m Measurement) Medians() (ours, sloth, r float64) {
	var o, s, q []float64
	for _, run := range m.Runs {
		o = append(o, run.Ours.EvalSecondsPerMinute)
		s = append(s, run.Sloth.EvalSecondsPerMinute)
		q = append(q, run.Ratio())
	}
	return median(o), median(s), median(q)
}

// Table is a measurement as markdown: a row per run and the medians.
func (m Measurement) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| run | loaded first | ours: eval s/min | Sloth: eval s/min | ours/Sloth | ours: groups, rules | Sloth: groups, rules | ours: samples/min | Sloth: samples/min |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range m.Runs {
		fmt.Fprintf(&b, "| %d | %s | %.4f | %.4f | %.2f | %d, %d | %d, %d | %.0f | %.0f |\n", r.Run, r.FirstFile,
			r.Ours.EvalSecondsPerMinute, r.Sloth.EvalSecondsPerMinute, r.Ratio(),
			r.Ours.Groups, r.Ours.Rules, r.Sloth.Groups, r.Sloth.Rules, r.Ours.SamplesPerMinute, r.Sloth.SamplesPerMinute)
	}
	o, s, q := m.Medians()
	fmt.Fprintf(&b, "| **median** | | **%.4f** | **%.4f** | **%.2f** | | | | |\n", o, s, q)
	return b.String()
}

// Markdown is results.md: every measurement, newest label last, each with its settings and table.
func Markdown(ms []Measurement) string {
	var b strings.Builder
	b.WriteString("# Rule evaluation cost: our SLO rules vs Sloth's\n\n")
	b.WriteString("Written by `go run ./hack/sloeval` (see its package comment for the method); the same numbers are in results.json.\n")
	b.WriteString("Evaluation seconds per minute: per rule group, its mean `prometheus_rule_group_last_duration_seconds` over\n")
	b.WriteString("the measured evaluations times 60 / `prometheus_rule_group_interval_seconds`, summed over the file's groups.\n")
	b.WriteString("Samples/min: what the rules wrote (`prometheus_rule_group_last_evaluation_samples`), likewise scaled.\n")
	for _, m := range ms {
		st := m.Settings
		fmt.Fprintf(&b, "\n## %s: %s, commit %s\n\n", m.Label, m.Date, m.Commit)
		fmt.Fprintf(&b, "%s and Sloth %s; %d instances (%d series), %s of history backfilled, scraped every %s, rules evaluated every %s; "+
			"each run %s of warm-up then %s measured, on %d CPUs.\n\n",
			m.Prometheus, m.Sloth, st.Instances, st.Series, st.Backfill, st.ScrapeInterval, st.EvalInterval, st.WarmUp, st.Duration, st.CPUs)
		if st.RecordingsBackfilled {
			fmt.Fprintf(&b, "The 5m recordings both rule sets read back (ours for every window, Sloth's for its 30-day window) were backfilled over the same %s, so both read what they would after running that long.\n\n", st.Backfill)
		} else {
			b.WriteString("The recordings had no backfilled history: rules over recordings read only the minutes since the first run.\n\n")
		}
		b.WriteString(m.Table())
		if len(m.Runs) > 0 {
			b.WriteString("\nPer group (the last run), eval s/min:\n\n")
			last := m.Runs[len(m.Runs)-1]
			for _, side := range []struct {
				name string
				c    RuleSetCost
			}{{"ours", last.Ours}, {"Sloth", last.Sloth}} {
				for _, g := range slices.Sorted(maps.Keys(side.c.PerGroup)) {
					fmt.Fprintf(&b, "- %s `%s`: %.4f\n", side.name, g, side.c.PerGroup[g])
				}
			}
		}
	}
	return b.String()
}

// merge puts m in place of an earlier measurement of the same label, or after the others.
func merge(ms []Measurement, m Measurement) []Measurement {
	for i := range ms {
		if ms[i].Label == m.Label {
			ms[i] = m
			return ms
		}
	}
	return append(ms, m)
}

// writeResults merges m into <dir>/results.json and rewrites results.md from it.
func writeResults(dir string, m Measurement) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ms []Measurement
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &ms); err != nil {
			return fmt.Errorf("%s/results.json: %w", dir, err)
		}
	}
	ms = merge(ms, m)
	js, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(Markdown(ms)), 0o644)
}
