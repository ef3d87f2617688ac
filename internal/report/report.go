// Package report builds the fleet compliance report of `reliability-operator report`: profiles × manifesto
// rules, worst services first, as a terminal table and as one self-contained HTML page (no script, no
// external file), from the profiles' status.compliance[]. Pure: it reads profiles and writes to a Writer.
package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Report is the fleet's verdicts.
type Report struct {
	// Rules are the rule ids judged, as columns, in the manifesto's order.
	Rules []string
	// Rows are the services, worst first: most failing rules, then most unknown, then by namespace and name.
	Rows []Row
	// Source says where the verdicts come from, such as "cluster" or "files".
	Source string
	At     time.Time
}

// Row is one service.
type Row struct {
	Namespace, Profile, Service, Tier string
	Summary                           string
	Verdicts                          map[string]v1alpha1.RuleVerdict
	Failing, Unknown                  int
	Exceptions                        []v1alpha1.Exception
}

// Build makes the report of the given profiles, judged with rules (in that order).
func Build(profiles []v1alpha1.ReliabilityProfile, rules []string, source string, at time.Time) Report {
	r := Report{Rules: rules, Source: source, At: at}
	for _, rp := range profiles {
		row := Row{Namespace: rp.Namespace, Profile: rp.Name, Service: rp.Spec.Service, Tier: string(rp.Spec.Tier),
			Summary: rp.Status.ComplianceSummary, Verdicts: map[string]v1alpha1.RuleVerdict{}, Exceptions: rp.Spec.Exceptions}
		for _, v := range rp.Status.Compliance {
			row.Verdicts[v.Rule] = v
			switch v.Result {
			case v1alpha1.ComplianceFail:
				row.Failing++
			case v1alpha1.ComplianceUnknown:
				row.Unknown++
			}
		}
		if row.Summary == "" {
			row.Summary = "not judged"
		}
		r.Rows = append(r.Rows, row)
	}
	slices.SortStableFunc(r.Rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Failing, a.Failing), cmp.Compare(b.Unknown, a.Unknown),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Profile, b.Profile))
	})
	return r
}

// symbols are the terminal's marks per result.
var symbols = map[v1alpha1.ComplianceResult]string{
	v1alpha1.CompliancePass: "ok", v1alpha1.ComplianceFail: "FAIL", v1alpha1.ComplianceWaived: "waived",
	v1alpha1.ComplianceNotApplicable: "-", v1alpha1.ComplianceUnknown: "?",
}

// Text writes the table for a terminal, then each failing rule's message and each exception.
func (r Report) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "NAMESPACE\tPROFILE\tTIER\tCOMPLIANT\t%s\n", strings.Join(r.Rules, "\t"))
	for _, row := range r.Rows {
		cells := make([]string, 0, len(r.Rules))
		for _, rule := range r.Rules {
			cell := "·"
			if v, ok := row.Verdicts[rule]; ok {
				cell = symbols[v.Result]
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.Namespace, row.Profile, row.Tier, row.Summary, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range r.Rows {
		for _, rule := range r.Rules {
			if v, ok := row.Verdicts[rule]; ok && v.Result == v1alpha1.ComplianceFail {
				fmt.Fprintf(w, "%s/%s %s: %s\n", row.Namespace, row.Profile, rule, v.Message)
			}
		}
		for _, e := range row.Exceptions {
			fmt.Fprintf(w, "%s/%s exception to %s until %s%s: %s\n", row.Namespace, row.Profile, e.Rule, e.Expires, approver(e), e.Reason)
		}
	}
	return nil
}

func approver(e v1alpha1.Exception) string {
	if e.ApprovedBy == "" {
		return ""
	}
	return ", approved by " + e.ApprovedBy
}

// HTML writes the report as one page with its own style sheet.
func (r Report) HTML(w io.Writer) error {
	return page.Execute(w, r)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"verdict": func(row Row, rule string) *v1alpha1.RuleVerdict {
		if v, ok := row.Verdicts[rule]; ok {
			return &v
		}
		return nil
	},
	"date":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"approver": approver,
	"label": func(r v1alpha1.ComplianceResult) string {
		if r == v1alpha1.ComplianceNotApplicable {
			return "n/a"
		}
		return string(r)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Reliability manifesto: fleet compliance</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { color: #555; margin: 0 0 16px; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 4px 8px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
td.verdict { text-align: center; font-weight: 600; min-width: 44px; }
td.Pass { background: #1a9850; color: #fff; }
td.Fail { background: #d73027; color: #fff; }
td.Waived { background: #fdae61; color: #1d1d1f; }
td.NotApplicable { background: #e0e0e0; color: #555; }
td.Unknown { background: #fee08b; color: #1d1d1f; }
td.none { background: #fff; color: #999; }
ul.legend { list-style: none; padding: 0; display: flex; gap: 12px; font-size: 13px; }
ul.legend li span { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
h2 { font-size: 16px; margin-top: 24px; }
</style>
</head>
<body>
<h1>Reliability manifesto: fleet compliance</h1>
<p class="meta">{{len .Rows}} services, from {{.Source}}, {{date .At}}. Worst services first; hover a cell for the operator's message.</p>
<ul class="legend">
<li><span style="background:#1a9850"></span>Pass</li><li><span style="background:#d73027"></span>Fail</li>
<li><span style="background:#fdae61"></span>Waived</li><li><span style="background:#fee08b"></span>Unknown</li>
<li><span style="background:#e0e0e0"></span>Not applicable</li>
</ul>
<table id="verdicts">
<thead><tr><th>Namespace</th><th>Profile</th><th>Tier</th><th>Compliant</th>{{range .Rules}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range $row := .Rows}}
<tr data-profile="{{$row.Namespace}}/{{$row.Profile}}" data-failing="{{$row.Failing}}"><td>{{$row.Namespace}}</td><td>{{$row.Profile}}</td><td>{{$row.Tier}}</td><td>{{$row.Summary}}</td>
{{- range $rule := $.Rules}}{{with verdict $row $rule}}<td class="verdict {{.Result}}" data-rule="{{$rule}}" title="{{.Message}}">{{label .Result}}</td>{{else}}<td class="verdict none" data-rule="{{$rule}}">·</td>{{end}}{{end}}</tr>
{{- end}}
</tbody>
</table>
<h2>Failing rules</h2>
<ul id="failing">
{{- range $row := .Rows}}{{range $rule := $.Rules}}{{with verdict $row $rule}}{{if eq (print .Result) "Fail"}}
<li><strong>{{$row.Namespace}}/{{$row.Profile}} {{$rule}}</strong>: {{.Message}}</li>{{end}}{{end}}{{end}}{{end}}
</ul>
<h2>Exceptions</h2>
<table id="exceptions">
<thead><tr><th>Profile</th><th>Rule</th><th>Until</th><th>Approved by</th><th>Reason</th></tr></thead>
<tbody>
{{- range $row := .Rows}}{{range $row.Exceptions}}
<tr><td>{{$row.Namespace}}/{{$row.Profile}}</td><td>{{.Rule}}</td><td>{{.Expires}}</td><td>{{.ApprovedBy}}</td><td>{{.Reason}}</td></tr>{{end}}{{end}}
</tbody>
</table>
</body>
</html>
`))
