// Package admission reviews a ReliabilityProfile for what the CRD's schema and CEL rules cannot say: PromQL
// that must parse as a plain selector, burn-rate tiers against the SLO window, durations as the renderers
// parse them, label selectors whose CEL check would cost more than the API server allows, the size of the
// whole profile, and finally the whole render with the operator's options. It also gives the admission
// warnings of the judgement calls that are allowed but usually wrong.
//
// It is pure (no client, no clock), and serves three callers with one verdict: the validating admission
// webhook, the offline `validate` command (through internal/validate) and, as the last line, nothing else:
// the controller renders with the same code and reports what still fails.
package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// MaxSpecBytes bounds a profile's spec as JSON. The API server stores at most about 1.5 MiB per object,
// and the object holds the spec, `kubectl apply`'s copy of it in an annotation, and the status the operator
// writes; a quarter of a MiB leaves room for all three, so the status can always be written.
const MaxSpecBytes = 256 << 10

// Verdict is the outcome of a review: errors refuse the profile, warnings are shown to whoever applied it
// (kubectl and Argo CD print admission warnings).
type Verdict struct {
	Errors   field.ErrorList
	Warnings []string
}

// Review checks a profile that passed the CRD's schema and CEL rules. The profile carries the CRD's
// defaults, as the API server stores it.
func Review(rp *v1alpha1.ReliabilityProfile, opts render.Options) Verdict {
	var v Verdict
	var decodeErr *v1alpha1.DecodeError
	if errors.As(rp.DecodeError(), &decodeErr) {
		// A value the Go types cannot hold, which a looser CRD let through: the rest of the spec is unknown.
		v.Errors = append(v.Errors, field.Invalid(field.NewPath(decodeErr.Field), field.OmitValueType{}, decodeErr.Problem))
		return v
	}
	spec := field.NewPath("spec")
	if b, err := json.Marshal(rp.Spec); err == nil && len(b) > MaxSpecBytes {
		v.Errors = append(v.Errors, field.Invalid(spec, fmt.Sprintf("%d bytes of JSON", len(b)),
			fmt.Sprintf("the profile is too large: at most %d bytes of JSON, so that its status always fits in the object the API server stores; a label value or a query is likely far too long", MaxSpecBytes)))
		return v // what follows would only repeat it field by field
	}
	for _, s := range selectorsOf(rp) {
		v.Errors = append(v.Errors, selectorErrors(s.path, s.sel)...)
		v.Warnings = append(v.Warnings, selectorWarnings(s)...)
	}
	v.Errors = append(v.Errors, renderErrors(rp, opts)...)
	v.Warnings = append(v.Warnings, warnings(rp)...)
	return v
}

// Denial is one message that names every error, for the webhook's status and the command line.
func (v Verdict) Denial() string {
	msgs := make([]string, 0, len(v.Errors))
	for _, e := range v.Errors {
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

// renderErrors renders the profile as the controller would and turns each failure into a field error.
// Render errors begin with the field path they are about ("spec.slos[0].objective: ..."), the convention of
// every renderer.
func renderErrors(rp *v1alpha1.ReliabilityProfile, opts render.Options) field.ErrorList {
	// Every SLO's problems, not only the first one's that stopped the PrometheusRule.
	errs := slo.Problems(rp)
	_, err := render.Render(rp, opts)
	var partial *render.PartialError
	switch {
	case errors.As(err, &partial):
		for _, f := range partial.Failures {
			errs = append(errs, f.Err)
		}
	case err != nil:
		errs = append(errs, err)
	}
	// Some children render only with some options (the Velero Schedule with --velero-namespace), but what
	// they parse is refused whatever the options: a profile must not become invalid when a flag changes.
	if _, err := dr.PlanOf(rp); err != nil {
		errs = append(errs, err)
	}
	if rp.Spec.Placement != nil {
		if _, err := placement.PolicyOf(rp); err != nil {
			errs = append(errs, err)
		}
	}
	var out field.ErrorList
	seen := map[string]bool{}
	for _, e := range errs {
		path, msg := splitPath(e.Error())
		if seen[path+msg] {
			continue
		}
		seen[path+msg] = true
		out = append(out, &field.Error{Type: field.ErrorTypeInvalid, Field: path, BadValue: field.OmitValueType{}, Detail: msg})
	}
	return out
}

// splitPath splits "spec.x[0].y: message" into the path and the message; an error that names no path is
// about the spec as a whole.
func splitPath(s string) (string, string) {
	path, msg, ok := strings.Cut(s, ": ")
	if !ok || !(strings.HasPrefix(path, "spec.") || strings.HasPrefix(path, "metadata.")) || strings.ContainsAny(path, " \"") {
		return "spec", s
	}
	return path, msg
}

// namedSelector is a label selector of the profile with its path and what it selects.
type namedSelector struct {
	path *field.Path
	sel  *v1alpha1.LabelSelector
	// selects is "pods", "Services", "namespaces" or "objects", for the messages.
	selects string
}

func selectorsOf(rp *v1alpha1.ReliabilityProfile) []namedSelector {
	spec := field.NewPath("spec")
	out := []namedSelector{{spec.Child("selector"), &rp.Spec.Selector, "pods"}}
	if s := rp.Spec.Metrics.ServiceSelector; s != nil {
		out = append(out, namedSelector{spec.Child("metrics", "serviceSelector"), s, "Services"})
	}
	if n := rp.Spec.Network; n != nil {
		if n.MonitoringNamespaceSelector != nil {
			out = append(out, namedSelector{spec.Child("network", "monitoringNamespaceSelector"), n.MonitoringNamespaceSelector, "namespaces"})
		}
		for i, r := range n.Ingress {
			for j, p := range r.From {
				from := spec.Child("network", "ingress").Index(i).Child("from").Index(j)
				if p.NamespaceSelector != nil {
					out = append(out, namedSelector{from.Child("namespaceSelector"), p.NamespaceSelector, "namespaces"})
				}
				if p.PodSelector != nil {
					out = append(out, namedSelector{from.Child("podSelector"), p.PodSelector, "pods"})
				}
			}
		}
	}
	if d := rp.Spec.DisasterRecovery; d != nil && d.Backup != nil && d.Backup.LabelSelector != nil {
		out = append(out, namedSelector{spec.Child("disasterRecovery", "backup", "labelSelector"), d.Backup.LabelSelector, "objects"})
	}
	return out
}

const (
	labelKeyRule   = "a label key: an optional DNS subdomain prefix of at most 253 characters and '/', then a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, such as app.kubernetes.io/name"
	labelValueRule = "a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, or empty, such as checkout"
)

// selectorErrors checks label keys and values as the API server checks them in the children that embed the
// selector. The CRD cannot: a CEL format check on every selector inside every ingress peer is estimated far
// over the API server's cost budget.
func selectorErrors(path *field.Path, s *v1alpha1.LabelSelector) field.ErrorList {
	var errs field.ErrorList
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if problems := k8svalidation.IsQualifiedName(k); len(problems) > 0 {
			errs = append(errs, field.Invalid(path.Child("matchLabels"), short(k), "the key must be "+labelKeyRule))
		}
		if problems := k8svalidation.IsValidLabelValue(s.MatchLabels[k]); len(problems) > 0 {
			errs = append(errs, field.Invalid(path.Child("matchLabels"), short(s.MatchLabels[k]), fmt.Sprintf("the value of %s must be %s", short(k), labelValueRule)))
		}
	}
	for i, e := range s.MatchExpressions {
		expr := path.Child("matchExpressions").Index(i)
		if problems := k8svalidation.IsQualifiedName(e.Key); len(problems) > 0 {
			errs = append(errs, field.Invalid(expr.Child("key"), short(e.Key), "must be "+labelKeyRule))
		}
		for _, val := range e.Values {
			if problems := k8svalidation.IsValidLabelValue(val); len(problems) > 0 {
				errs = append(errs, field.Invalid(expr.Child("values"), short(val), "every value must be "+labelValueRule))
			}
		}
	}
	return errs
}

// short keeps a refused value readable in a message: a megabyte label value is named by its start.
func short(s string) string {
	if len(s) <= 80 {
		return s
	}
	return fmt.Sprintf("%s... (%d characters)", s[:60], len(s))
}

// selectorWarnings: a selector made only of absences selects nearly everything, and an empty one selects
// every namespace.
func selectorWarnings(s namedSelector) []string {
	if len(s.sel.MatchLabels) == 0 && len(s.sel.MatchExpressions) == 0 {
		if s.selects == "namespaces" {
			return []string{fmt.Sprintf("%s: {} selects every namespace of the cluster: the service's ports open to all of them (S-2, S-4); name the namespaces, such as matchLabels: {kubernetes.io/metadata.name: monitoring}", s.path)}
		}
		return nil // empty pod selectors are refused by the CRD
	}
	if len(s.sel.MatchLabels) > 0 {
		return nil
	}
	for _, e := range s.sel.MatchExpressions {
		if e.Operator == metav1.LabelSelectorOpIn || e.Operator == metav1.LabelSelectorOpExists {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s: only NotIn and DoesNotExist terms: it selects every %s that lacks those labels, nearly all of them; add an In, Exists or matchLabels term, such as matchLabels: {app.kubernetes.io/name: checkout}", s.path, strings.TrimSuffix(s.selects, "s"))}
}

// warnings are the judgement calls: allowed, because a team may mean them, but shown at every apply.
func warnings(rp *v1alpha1.ReliabilityProfile) []string {
	var out []string
	spec := rp.Spec
	if spec.Metrics.Port != 0 && spec.Metrics.Port != v1alpha1.DefaultMetricsPort {
		out = append(out, fmt.Sprintf("spec.metrics.port: %d is not %d, the port every service exposes its metrics on (O-7); the ServiceMonitor scrapes %d as declared",
			spec.Metrics.Port, v1alpha1.DefaultMetricsPort, spec.Metrics.Port))
	}
	if d := spec.Disruption; d != nil && d.MinAvailable != nil && d.MinAvailable.String() != "0" && d.MinAvailable.String() != "0%" {
		out = append(out, "spec.disruption.minAvailable: "+blockedDrains(d.MinAvailable.String())+"; maxUnavailable: 1 never blocks a drain (D-6)")
	}
	if plan, err := dr.PlanOf(rp); err == nil && plan != nil && plan.RTO > 0 && spec.DisasterRecovery.RPO != "" && plan.RPO > plan.RTO {
		out = append(out, fmt.Sprintf("spec.disasterRecovery.rpo: %s is longer than the RTO %s: the service may be back within the RTO but miss more data than it was down for; check both (R-4)",
			spec.DisasterRecovery.RPO, spec.DisasterRecovery.RTO))
	}
	objectives, err := slo.Objectives(rp)
	if err != nil {
		return out // refused by the render errors already
	}
	for i, o := range objectives {
		sloPath := fmt.Sprintf("spec.slos[%d]", i)
		if a := spec.SLOs[i].Alerting; a != nil && !a.Disabled && pageSeverity(a) == ticketSeverity(a) {
			out = append(out, fmt.Sprintf("%s.alerting.ticketSeverity: %q is also the page severity: pages and tickets reach the same receiver; give them different severities, such as page and ticket", sloPath, ticketSeverity(a)))
		}
		selectors, err := o.Selectors()
		if err != nil {
			continue
		}
		for _, s := range selectors {
			if o.Latency != nil && !o.Latency.NativeHistogram && strings.HasSuffix(s.Metric, "_bucket") {
				out = append(out, fmt.Sprintf("%s: %s ends in _bucket, and the operator adds _bucket and _count itself (it reads %s_bucket); name the histogram without its suffix, such as %s",
					s.Field, s.Metric, s.Metric, strings.TrimSuffix(s.Metric, "_bucket")))
			}
			for _, m := range s.Matchers {
				if m.Name == "namespace" && !(m.Type == labels.MatchEqual && m.Value == rp.Namespace) {
					out = append(out, fmt.Sprintf("%s: the matcher %s reads series outside the profile's namespace %s: this SLO would count another team's traffic; without a namespace matcher the operator limits it to %s",
						s.Field, m.String(), rp.Namespace, rp.Namespace))
				}
			}
		}
		if o.BoolGauge != nil {
			for _, s := range selectors {
				for _, suffix := range []string{"_total", "_count", "_sum", "_bucket"} {
					if strings.HasSuffix(s.Metric, suffix) {
						out = append(out, fmt.Sprintf("%s: %s looks like a counter or histogram series, not a 0/1 gauge: a boolGauge counts the share of samples that are 1; use a ratio indicator for counters",
							s.Field, s.Metric))
						break
					}
				}
			}
		}
		for j, g := range o.GroupBy {
			if slices.Contains([]string{"instance", "pod", "container", "pod_name", "node"}, g) {
				out = append(out, fmt.Sprintf("%s.groupBy[%d]: %s changes with every restart or reschedule: each new value is a new group with an empty history and its own alerts; group by a stable label such as route",
					sloPath, j, g))
			}
		}
		for _, t := range o.Tiers {
			budget := o.ErrorBudget()
			if new(big.Rat).Mul(t.BurnRate, budget).Cmp(big.NewRat(1, 1)) > 0 {
				out = append(out, fmt.Sprintf("%s.alerting.%s: the %s tier (burn rate %s) can never fire at objective %s: it needs more than every request to fail; disable it or lower its burnRate",
					sloPath, t.Path, t.Name, t.BurnRate.FloatString(1), spec.SLOs[i].Objective))
				continue
			}
			spent := new(big.Rat).Mul(t.BurnRate, big.NewRat(int64(t.Long), int64(o.Window)))
			if spent.Cmp(big.NewRat(1, 1)) > 0 {
				out = append(out, fmt.Sprintf("%s.alerting.%s: the %s tier (burn rate %s over %s) fires only after more than the whole error budget of the %s window is spent; lower its burnRate or longWindow",
					sloPath, t.Path, t.Name, t.BurnRate.FloatString(1), slo.WindowName(t.Long), slo.WindowName(o.Window)))
			}
		}
	}
	return out
}

func pageSeverity(a *v1alpha1.SLOAlerting) string {
	if a.PageSeverity != "" {
		return a.PageSeverity
	}
	return string(v1alpha1.SeverityPage)
}

func ticketSeverity(a *v1alpha1.SLOAlerting) string {
	if a.TicketSeverity != "" {
		return a.TicketSeverity
	}
	return string(v1alpha1.SeverityTicket)
}

// blockedDrains says at which replica counts a minAvailable stops a node drain: when no pod may be evicted.
func blockedDrains(minAvailable string) string {
	if pct, ok := strings.CutSuffix(minAvailable, "%"); ok {
		var p int
		if _, err := fmt.Sscan(pct, &p); err == nil && p > 0 && p < 100 {
			// floor(n × (100 − p) / 100) pods may go; none while n < 100 / (100 − p).
			n := (100 + (100 - p) - 1) / (100 - p)
			return fmt.Sprintf("%s blocks every node drain while the service runs fewer than %d pods", minAvailable, n)
		}
		return minAvailable + " may block node drains"
	}
	return fmt.Sprintf("%s blocks every node drain while the service runs %s or fewer pods", minAvailable, minAvailable)
}
