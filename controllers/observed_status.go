package controllers

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/gameday"
	"github.com/reliability-operator/reliability-operator/internal/observe"
)

// groupsMessage is the message of a grouped SLO's status: empty while its groups are within maxGroups
// (default v1alpha1.DefaultMaxGroups), else how far above. The rendered SLOGroupsAboveBound alert says the
// same to whoever is on call; the status says it to whoever reads the profile.
func groupsMessage(s v1alpha1.SLO, v observe.SLOValues) string {
	if len(s.GroupBy) == 0 {
		return ""
	}
	bound := int32(v1alpha1.DefaultMaxGroups)
	if s.MaxGroups != nil {
		bound = *s.MaxGroups
	}
	if int64(v.Groups) <= int64(bound) {
		return ""
	}
	return fmt.Sprintf("Prometheus reports %d groups by %s, more than maxGroups (%d): every group costs its own series and alerts. "+
		"Group by a label with fewer values, or raise spec.slos[].maxGroups.", v.Groups, strings.Join(s.GroupBy, ", "), bound)
}

// setSLOInputsCondition reports the profile's SLOInputAbsent and SLOThresholdNotABucket alerts, pending or
// firing: True when there is none, False naming each field and what the profile wrote there, Unknown when
// Prometheus could not be read. The reason is that of the first alert by field.
func setSLOInputsCondition(rp *v1alpha1.ReliabilityProfile, obs observe.Observation, at metav1.Time) {
	c := metav1.Condition{Type: v1alpha1.SLOInputsCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.InputsPresentReason,
		Message: "Every SLO's input series exist in Prometheus."}
	switch {
	case obs.Err != "":
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.PrometheusUnreachableReason, obs.Err
	case len(obs.InputAlerts) > 0:
		c.Status = metav1.ConditionFalse
		var msgs []string
		for i, a := range obs.InputAlerts {
			reason, msg := inputFinding(rp, a)
			if i == 0 {
				c.Reason = reason
			}
			msgs = append(msgs, msg)
		}
		c.Message = strings.Join(msgs, "; ")
	}
	setCondition(&rp.Status, c, rp.Generation, at)
}

// inputFinding is the reason and the message of one input alert: the field, what the profile wrote at it,
// and what to do.
func inputFinding(rp *v1alpha1.ReliabilityProfile, a observe.InputAlert) (string, string) {
	written, ok := specValue(rp, a.Field)
	state := ""
	if !a.Firing {
		state = " (pending)"
	}
	if a.Alert == observe.ThresholdNotABucketAlert {
		histogram, _ := specValue(rp, strings.TrimSuffix(a.Field, ".threshold")+".histogram")
		if !ok {
			written = "the threshold"
		}
		return v1alpha1.ThresholdNotABucketReason, fmt.Sprintf("%s: %s is not a bucket boundary of the classic histogram %s: "+
			"no %s_bucket series has le=%q, so requests at the threshold cannot be counted; choose a threshold that is one of its "+
			"buckets' le values%s", a.Field, written, histogram, metricName(histogram), written, state)
	}
	if !ok {
		return v1alpha1.InputAbsentReason, fmt.Sprintf("%s of SLO %s matches no series in Prometheus%s", a.Field, a.SLO, state)
	}
	limited := ""
	if !namesNamespace.MatchString(written) {
		limited = fmt.Sprintf(" (limited to namespace %s)", rp.Namespace)
	}
	return v1alpha1.InputAbsentReason, fmt.Sprintf("%s: %s%s matches no series in Prometheus; if the metric has no namespace label, "+
		`write namespace="" in the selector%s`, a.Field, written, limited, state)
}

// namesNamespace finds a namespace matcher in a selector, which the operator then leaves as written.
var namesNamespace = regexp.MustCompile(`[{,]\s*namespace\s*(=|!=|=~|!~)`)

// metricName is the metric name of a selector, such as http_request_duration_seconds of
// http_request_duration_seconds{job="api"}.
func metricName(selector string) string {
	if i := strings.IndexAny(selector, "{ "); i >= 0 {
		return selector[:i]
	}
	return selector
}

// specValue reads the value at a spec path such as spec.slos[0].indicator.ratio.total from the profile as
// it is written (its JSON), so that a message quotes the user's own text.
func specValue(rp *v1alpha1.ReliabilityProfile, path string) (string, bool) {
	b, err := json.Marshal(rp.Spec)
	if err != nil {
		return "", false
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(path, "spec.")
	if !ok {
		return "", false
	}
	for _, part := range strings.Split(rest, ".") {
		name, index, indexed := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = m[name]
		if indexed {
			i, err := strconv.Atoi(index)
			list, ok := v.([]any)
			if err != nil || !ok || i < 0 || i >= len(list) {
				return "", false
			}
			v = list[i]
		}
	}
	switch s := v.(type) {
	case string:
		return s, true
	case float64, bool:
		return fmt.Sprint(s), true
	}
	return "", false
}

// setGameDaysStatus writes status.gameDays, one entry per held game day in the order of the spec. A
// measured entry of the same window is kept as it is, for good: Prometheus forgets old samples, the status
// does not. Otherwise the observer's impact is written, or, when it has none (Prometheus could not be read),
// why it is not measured. An entry whose game day left the spec goes.
func setGameDaysStatus(rp *v1alpha1.ReliabilityProfile, obs observe.Observation) {
	plan, err := gameday.PlanOf(rp)
	if err != nil || plan == nil {
		rp.Status.GameDays = nil
		return
	}
	var out []v1alpha1.GameDayStatus
	for _, w := range plan.Held {
		window := observe.WindowOf(w)
		var entry *v1alpha1.GameDayStatus
		for i, g := range rp.Status.GameDays {
			if g.Name == w.Name && g.Window == window && g.MeasuredAt != nil {
				entry = &rp.Status.GameDays[i]
			}
		}
		if entry != nil {
			out = append(out, *entry)
			continue
		}
		st := v1alpha1.GameDayStatus{Name: w.Name, Window: window}
		impact, found := findImpact(obs.GameDays, w.Name, window)
		switch {
		case obs.Err != "":
			st.Message = "Not measured yet: Prometheus could not be read: " + obs.Err
		case !found:
			st.Message = "Not measured yet."
		default:
			st = gameDayStatus(impact)
		}
		out = append(out, st)
	}
	rp.Status.GameDays = out
}

func findImpact(impacts []observe.GameDayImpact, name, window string) (observe.GameDayImpact, bool) {
	for _, g := range impacts {
		if g.Name == name && g.Window == window && !g.Kept {
			return g, true
		}
	}
	return observe.GameDayImpact{}, false
}

// gameDayStatus writes an impact as status: the budget spent in percent with two decimals, by SLO name, the
// time to the first page to the second.
func gameDayStatus(g observe.GameDayImpact) v1alpha1.GameDayStatus {
	st := v1alpha1.GameDayStatus{Name: g.Name, Window: g.Window, AlertsFired: g.AlertsFired, Message: g.Message}
	for name, spent := range g.BudgetSpent {
		st.SLOs = append(st.SLOs, v1alpha1.GameDaySLOImpact{Name: name, ErrorBudgetSpent: strconv.FormatFloat(spent*100, 'f', 2, 64) + "%"})
	}
	sortImpacts(st.SLOs)
	if g.TimeToFirstPage != nil {
		st.TimeToFirstPage = model.Duration(g.TimeToFirstPage.Round(time.Second)).String()
	}
	if g.Measured() {
		at := metav1.NewTime(g.MeasuredAt.UTC().Truncate(time.Second))
		st.MeasuredAt = &at
	}
	return st
}

func sortImpacts(s []v1alpha1.GameDaySLOImpact) {
	slices.SortFunc(s, func(a, b v1alpha1.GameDaySLOImpact) int { return strings.Compare(a.Name, b.Name) })
}
