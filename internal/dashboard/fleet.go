package dashboard

// FleetUID is the fleet dashboard's UID, fixed so that links to it survive a re-import.
const FleetUID = "rprof-fleet-compliance"

// Fleet is the dashboard of the whole fleet's compliance with the manifesto, built on the operator's own
// metrics (reliability_operator_rule_result and reliability_operator_exception_expiry_timestamp_seconds): how
// many services meet every rule, which rules fail where, what is waived and which exceptions end soon.
func Fleet() Dashboard {
	d := Dashboard{
		UID:           FleetUID,
		Title:         "Reliability manifesto: fleet compliance",
		Description:   "Verdicts of reliability-operator on each manifesto rule for every ReliabilityProfile, from its /metrics.",
		Tags:          []string{"reliability-operator", "compliance"},
		SchemaVersion: 39,
		Refresh:       "5m",
		Time:          TimeRange{From: "now-30d", To: "now"},
		Templating:    Templating{List: []Variable{{Name: "datasource", Label: "Prometheus", Type: "datasource", Query: "prometheus"}}},
	}
	b := &builder{d: &d}
	const results = `reliability_operator_rule_result == 1`
	b.row("Fleet")
	b.panel(6, "stat", "Services meeting every rule", "Profiles with no rule failing (waived rules count as met).", unit("none", 0, nil),
		Target{Expr: `count(count by (namespace, profile) (` + results + `)) - (count(count by (namespace, profile) (reliability_operator_rule_result{result="Fail"} == 1)) or vector(0))`, LegendFormat: "services", Instant: true})
	b.panel(6, "stat", "Services failing a rule", "Profiles with at least one rule failing.", unit("none", 0, nil),
		Target{Expr: `count(count by (namespace, profile) (reliability_operator_rule_result{result="Fail"} == 1)) or vector(0)`, LegendFormat: "services", Instant: true})
	b.panel(6, "stat", "Rules waived", "Verdicts waived by an exception in force (F-1).", unit("none", 0, nil),
		Target{Expr: `count(reliability_operator_rule_result{result="Waived"} == 1) or vector(0)`, LegendFormat: "waived", Instant: true})
	b.panel(6, "stat", "Exceptions ending within 14 days", "Exceptions to renew or let lapse at the next review (F-3).", unit("none", 0, nil),
		Target{Expr: `count((reliability_operator_exception_expiry_timestamp_seconds - time()) < 14 * 86400) or vector(0)`, LegendFormat: "exceptions", Instant: true})
	b.row("Rules")
	b.panel(12, "timeseries", "Services failing each rule", "Over time, per manifesto rule.", unit("none", 0, nil),
		Target{Expr: `sum by (rule) (reliability_operator_rule_result{result="Fail"})`, LegendFormat: "{{rule}}"})
	b.panel(12, "bargauge", "Share of services meeting each rule", "Pass or Waived, of the services the rule applies to.", unit("percentunit", 1, budgetColours()),
		Target{Expr: `sum by (rule) (reliability_operator_rule_result{result=~"Pass|Waived"}) / sum by (rule) (reliability_operator_rule_result{result!="NotApplicable"})`, LegendFormat: "{{rule}}", Instant: true})
	b.row("Where")
	b.panel(12, "table", "Failing rules, worst services first", "One row per service and failing rule; status.compliance[] of the profile has the message.", nil,
		Target{Expr: `sort_desc(count by (namespace, service) (reliability_operator_rule_result{result="Fail"} == 1))`, Format: "table", Instant: true},
		Target{Expr: `reliability_operator_rule_result{result="Fail"} == 1`, Format: "table", Instant: true})
	b.panel(12, "table", "Exceptions by end date", "Days left of each exception; negative once it has ended.", unit("d", 0, nil),
		Target{Expr: `sort((reliability_operator_exception_expiry_timestamp_seconds - time()) / 86400)`, Format: "table", Instant: true})
	return d
}
