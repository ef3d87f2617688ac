package openslo

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// APIVersion is the only OpenSLO version this package reads.
const APIVersion = "openslo/v1"

// Document is one decoded YAML or JSON document and where it came from (file:document-number).
type Document struct {
	Source string
	Object map[string]any
}

// Options are what a profile needs and OpenSLO does not say.
type Options struct {
	// Namespace of every profile; empty leaves it out, as for kubectl's current namespace.
	Namespace string
	// Tier is critical or non-critical.
	Tier string
	// Selector is the pods' matchLabels; nil means app=<service>.
	Selector map[string]string
}

// Profile is one generated ReliabilityProfile and the OpenSLO documents it came from.
type Profile struct {
	Service string
	Sources []string
	Object  map[string]any
}

// Refusal is an OpenSLO document, or a field of one, that has no honest ReliabilityProfile equivalent.
type Refusal struct {
	Source, Kind, Name, Field, Reason string
}

func (r *Refusal) Error() string {
	field := ""
	if r.Field != "" {
		field = r.Field + ": "
	}
	return fmt.Sprintf("%s: OpenSLO %s %s: %s%s", r.Source, r.Kind, r.Name, field, r.Reason)
}

// Result is what Convert found: profiles, notes about what was left out on purpose, and refusals. Profiles
// holds only the services none of whose SLOs was refused.
type Result struct {
	Profiles []Profile
	Notes    []string
	Refusals []*Refusal
}

type doc struct {
	Document
	kind, name string
	meta, spec map[string]any
}

// Convert maps OpenSLO documents to ReliabilityProfiles, one per service, in the order of service names.
func Convert(docs []Document, opts Options) Result {
	var res Result
	var slos []doc
	services := map[string]*doc{}
	slis := map[string]doc{}
	sources := map[string]doc{}
	for _, d := range docs {
		x := doc{Document: d}
		x.kind, _ = d.Object["kind"].(string)
		x.meta, _ = d.Object["metadata"].(map[string]any)
		x.spec, _ = d.Object["spec"].(map[string]any)
		x.name, _ = x.meta["name"].(string)
		if v, _ := d.Object["apiVersion"].(string); v != APIVersion {
			res.Refusals = append(res.Refusals, &Refusal{Source: d.Source, Kind: x.kind, Name: x.name, Field: "apiVersion",
				Reason: fmt.Sprintf("%q: only %s documents are imported", v, APIVersion)})
			continue
		}
		if x.name == "" {
			res.Refusals = append(res.Refusals, &Refusal{Source: d.Source, Kind: x.kind, Field: "metadata.name", Reason: "required"})
			continue
		}
		switch x.kind {
		case "SLO":
			slos = append(slos, x)
		case "SLI":
			slis[x.name] = x
		case "Service":
			services[x.name] = &x
		case "DataSource":
			sources[x.name] = x
		case "AlertPolicy", "AlertCondition", "AlertNotificationTarget":
			res.Notes = append(res.Notes, fmt.Sprintf("%s: OpenSLO %s %s: left out: the operator renders its own multi-window multi-burn-rate alerts for every SLO", d.Source, x.kind, x.name))
		default:
			res.Refusals = append(res.Refusals, &Refusal{Source: d.Source, Kind: x.kind, Name: x.name, Field: "kind",
				Reason: "not an OpenSLO v1 kind (SLO, SLI, Service, DataSource, AlertPolicy, AlertCondition, AlertNotificationTarget)"})
		}
	}

	type group struct {
		sources []string
		slos    []map[string]any
		failed  bool
	}
	groups := map[string]*group{}
	groupOf := func(name string) *group {
		if groups[name] == nil {
			groups[name] = &group{}
			if s := services[name]; s != nil {
				groups[name].sources = append(groups[name].sources, s.Source)
			}
		}
		return groups[name]
	}
	for name := range services {
		groupOf(name)
	}
	m := mapper{slis: slis, sources: sources, res: &res}
	for _, s := range slos {
		service, _ := s.spec["service"].(string)
		if service == "" {
			m.refuse(s, "spec.service", "required: it names the service, and so the profile, the SLO belongs to")
			continue
		}
		g := groupOf(service)
		g.sources = append(g.sources, s.Source)
		entries, ok := m.slo(s)
		if !ok {
			g.failed = true
			continue
		}
		g.slos = append(g.slos, entries...)
	}

	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		g := groups[name]
		if g.failed {
			continue
		}
		res.Profiles = append(res.Profiles, Profile{Service: name, Sources: g.sources, Object: m.profile(name, services[name], g.slos, opts)})
	}
	return res
}

type mapper struct {
	slis    map[string]doc
	sources map[string]doc
	res     *Result
}

func (m mapper) refuse(d doc, field, reason string, args ...any) {
	m.res.Refusals = append(m.res.Refusals, &Refusal{Source: d.Source, Kind: d.kind, Name: d.name, Field: field, Reason: fmt.Sprintf(reason, args...)})
}

func (m mapper) note(d doc, field, what string, args ...any) {
	m.res.Notes = append(m.res.Notes, fmt.Sprintf("%s: OpenSLO %s %s: %s: %s", d.Source, d.kind, d.name, field, fmt.Sprintf(what, args...)))
}

func (m mapper) profile(name string, service *doc, slos []map[string]any, opts Options) map[string]any {
	meta := map[string]any{"name": name}
	if opts.Namespace != "" {
		meta["namespace"] = opts.Namespace
	}
	selector := map[string]any{"app": name}
	if opts.Selector != nil {
		selector = map[string]any{}
		for k, v := range opts.Selector {
			selector[k] = v
		}
	}
	spec := map[string]any{
		"service":  name,
		"tier":     opts.Tier,
		"selector": map[string]any{"matchLabels": selector},
	}
	if len(slos) > 0 {
		s := make([]any, len(slos))
		for i := range slos {
			s[i] = slos[i]
		}
		spec["slos"] = s
	}
	if service != nil {
		if r := m.routing(*service); r != nil {
			spec["routing"] = r
		}
	}
	return map[string]any{"apiVersion": "reliability.dev/v1alpha1", "kind": "ReliabilityProfile", "metadata": meta, "spec": spec}
}

// slo maps one SLO document to one spec.slos[] entry per objective; false when any part is refused.
func (m mapper) slo(d doc) ([]map[string]any, bool) {
	refused := len(m.res.Refusals)
	base := map[string]any{}
	if desc, _ := d.spec["description"].(string); desc != "" {
		base["description"] = desc
	}
	if w, ok := m.window(d); ok && w != "" {
		base["window"] = w
	}
	switch method, _ := d.spec["budgetingMethod"].(string); method {
	case "Occurrences":
	case "Timeslices":
		m.refuse(d, "spec.budgetingMethod", "Timeslices is not imported: it counts time slices whose own ratio meets objectives[].timeSliceTarget, a threshold on a per-slice SLI that no indicator of a ReliabilityProfile computes (a boolGauge counts samples of a 0/1 gauge, not slices of a ratio); Occurrences (good events over all events) maps")
	case "RatioTimeslices":
		m.refuse(d, "spec.budgetingMethod", "RatioTimeslices is not imported: it averages the ratio of each time slice, so a quiet slice weighs as much as a busy one, while a ReliabilityProfile weighs every event the same; Occurrences (good events over all events) maps")
	case "":
		m.refuse(d, "spec.budgetingMethod", "required; Occurrences is the method a ReliabilityProfile measures")
	default:
		m.refuse(d, "spec.budgetingMethod", "%q is not an OpenSLO budgeting method; Occurrences maps", method)
	}
	if _, ok := d.spec["alertPolicies"]; ok {
		m.note(d, "spec.alertPolicies", "left out: the operator renders its own multi-window multi-burn-rate alerts")
	}
	indicator, ok := m.indicator(d)
	if ok {
		base["indicator"] = indicator
	}
	if r := m.routing(d); r != nil {
		base["routing"] = r
	}

	objectives, _ := d.spec["objectives"].([]any)
	if len(objectives) == 0 {
		m.refuse(d, "spec.objectives", "required: at least one objective with target or targetPercent")
	}
	var out []map[string]any
	for i, o := range objectives {
		field := fmt.Sprintf("spec.objectives[%d]", i)
		obj, _ := o.(map[string]any)
		if _, ok := obj["indicator"]; ok {
			m.refuse(d, field+".indicator", "composite SLOs are not imported: give the SLO one indicator, or write one SLO per indicator")
			continue
		}
		if _, ok := obj["indicatorRef"]; ok {
			m.refuse(d, field+".indicatorRef", "composite SLOs are not imported: give the SLO one indicator, or write one SLO per indicator")
			continue
		}
		for _, k := range []string{"op", "value", "timeSliceTarget", "timeSliceWindow", "compositeWeight"} {
			if _, ok := obj[k]; ok {
				m.note(d, field+"."+k, "left out: it has no meaning for an Occurrences ratio")
			}
		}
		percent, ok := m.objective(d, field, obj)
		if !ok {
			continue
		}
		e := map[string]any{}
		for k, v := range base {
			e[k] = v
		}
		e["name"] = d.name
		if len(objectives) > 1 {
			suffix := strconv.Itoa(i)
			if dn, _ := obj["displayName"].(string); slug(dn) != "" {
				suffix = slug(dn)
			}
			e["name"] = d.name + "-" + suffix
		}
		e["objective"] = percent
		out = append(out, e)
	}
	return out, len(m.res.Refusals) == refused
}

// objective is objectives[].target or targetPercent as the profile's percent string.
func (m mapper) objective(d doc, field string, o map[string]any) (string, bool) {
	target, hasTarget := o["target"]
	percent, hasPercent := o["targetPercent"]
	switch {
	case hasTarget && hasPercent:
		m.refuse(d, field, "set target or targetPercent, not both")
	case hasTarget:
		s, ok := decimal(target)
		if !ok {
			m.refuse(d, field+".target", "must be a number from 0 to 1, such as 0.999")
			return "", false
		}
		return shift2(s), true
	case hasPercent:
		s, ok := decimal(percent)
		if !ok {
			m.refuse(d, field+".targetPercent", "must be a number from 0 to 100, such as 99.9")
			return "", false
		}
		return s, true
	default:
		m.refuse(d, field, "target or targetPercent is required")
	}
	return "", false
}

var days = regexp.MustCompile(`^([0-9]{1,3})([dw])$`)

// window is the profile's window of spec.timeWindow; "" for the profile's default.
func (m mapper) window(d doc) (string, bool) {
	tw, present := d.spec["timeWindow"]
	if !present {
		m.note(d, "spec.timeWindow", "absent: the profile's default window, 30d, applies")
		return "", true
	}
	list, _ := tw.([]any)
	if len(list) != 1 {
		m.refuse(d, "spec.timeWindow", "must hold exactly one window")
		return "", false
	}
	w, _ := list[0].(map[string]any)
	rolling, _ := w["isRolling"].(bool)
	if _, ok := w["calendar"]; ok || !rolling {
		m.refuse(d, "spec.timeWindow[0]", "a calendar-aligned window is not imported: a ReliabilityProfile's window rolls (7d to 90d), and a budget that resets at the start of each calendar period is a different promise; use isRolling: true with a duration in days or weeks")
		return "", false
	}
	dur, _ := w["duration"].(string)
	g := days.FindStringSubmatch(dur)
	if g == nil {
		m.refuse(d, "spec.timeWindow[0].duration", "%q: must be whole days or weeks from 7d to 90d, such as 28d or 4w", dur)
		return "", false
	}
	n, _ := strconv.Atoi(g[1])
	if g[2] == "w" {
		n *= 7
	}
	if n < 7 || n > 90 {
		m.refuse(d, "spec.timeWindow[0].duration", "%q is %d days: a ReliabilityProfile's window is from 7d to 90d", dur, n)
		return "", false
	}
	return fmt.Sprintf("%dd", n), true
}

// routing maps metadata.labels and metadata.annotations to a profile's routing, leaving out with a note what
// a Prometheus label or annotation cannot hold.
func (m mapper) routing(d doc) map[string]any {
	out := map[string]any{}
	for _, part := range []struct {
		field, key string
		reserved   []string
	}{
		{"metadata.labels", "labels", reservedLabels},
		{"metadata.annotations", "annotations", reservedAnnotations},
	} {
		src, _ := d.meta[part.key].(map[string]any)
		got := map[string]any{}
		for _, k := range sortedKeys(src) {
			v, isString := src[k].(string)
			switch {
			case !labelName.MatchString(k) || strings.HasPrefix(k, "__") || len(k) > 63:
				m.note(d, part.field+"."+k, "left out: not a Prometheus label name (letters, digits and '_')")
			case contains(part.reserved, k):
				m.note(d, part.field+"."+k, "left out: the operator sets it itself")
			case !isString:
				m.note(d, part.field+"."+k, "left out: only a single string value maps to a routing %s", strings.TrimSuffix(part.key, "s"))
			default:
				got[k] = v
			}
		}
		if len(got) > 0 {
			out[part.key] = got
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

var (
	labelName           = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	reservedLabels      = []string{"service", "slo", "tier", "namespace", "severity", "burnrate_tier", "long_window", "short_window", "alertname", "alertstate", "le", "field", "job", "instance"}
	reservedAnnotations = []string{"summary", "description", "runbook_url"}
	notSlug             = regexp.MustCompile(`[^a-z0-9]+`)
)

// slug is a display name as a DNS label part: "Foo Total Errors" is foo-total-errors.
func slug(s string) string {
	return strings.Trim(notSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// decimal is a YAML number as a plain decimal string.
func decimal(v any) (string, bool) {
	switch n := v.(type) {
	case int64:
		return strconv.FormatInt(n, 10), true
	case int:
		return strconv.Itoa(n), true
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64), true
	}
	return "", false
}

// shift2 multiplies a decimal string by 100 without floating point: "0.999" is "99.9".
func shift2(s string) string {
	whole, frac, _ := strings.Cut(s, ".")
	frac += "00"
	whole, frac = whole+frac[:2], frac[2:]
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
