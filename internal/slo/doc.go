// Package slo turns the SLOs of a ReliabilityProfile into Prometheus rules: SLI recording rules over the
// windows the alerts need, the objective and the error budget as series, multi-window multi-burn-rate
// alerts, and the manifesto's own rules (scrape target down, version metric absent, availability, latency).
// Like Pyrra, it keeps the maths apart from Kubernetes: Objectives builds plain domain values from the API,
// and Groups builds rule groups from them. Everything is pure and deterministic.
//
// # Series
//
// Every SLO series carries the labels service, slo, tier and namespace (service:up:ratio has no slo). The
// profile's selectors are limited to its namespace unless they name one. Names follow one scheme,
// level:metric:operation (the Prometheus recording-rule convention):
//
//	slo:sli_errors:rate5m                  errors per second over 5m (the base of the SLO window)
//	slo:sli_requests:rate5m                requests per second over 5m
//	slo:sli_error:ratio_rate<W>            error ratio over W, for every window an alert uses, and the SLO window
//	slo:objective:ratio                    the objective, e.g. 0.999
//	slo:external_objective:ratio           the external objective, when declared
//	slo:error_budget:ratio                 1 - objective
//	slo:error_budget_remaining:ratio       1 - (error ratio over the SLO window / error budget)
//	slo:sli_latency:p99_rate5m             99th percentile latency, for latency SLOs (O-9)
//	service:up:ratio                       share of the service's scrape targets that are up (O-9)
//
// Only the 5m rates read the raw series. Every other error ratio, over the alert windows and the SLO
// window, is derived from them: the sums over W of the recorded 5m error and request rates, divided
// (sum_over_time of each). Prometheus never evaluates rate() over hours or days of raw series, whatever
// their number of instances; the ratio is traffic-weighted like a rate() over W (each 5m rate takes counter
// resets), and exact once the recorded series are as old as the window. The SLO window's ratio and the budget
// remaining are in a group of their own, <service>-slo-<name>-window, evaluated every 2 minutes
// (Service.WindowInterval): below Prometheus' 5m lookback with room for a missed evaluation; readers query
// them with last_over_time over ReadLookback.
//
// # Indicators
//
//	ratio      errors and total counters: errors 0 for a group with requests and no error series
//	latency    a classic histogram's _count minus its bucket at the threshold, or a native histogram's
//	           histogram_fraction; without a bucket at the threshold the errors stay unknown
//	boolGauge  a 0/1 gauge's samples: bad samples per second over all samples per second (bad time share)
//	promQL     two expressions of rates over $window, evaluated over 5m, limited to the profile's namespace
//
// With spec.slos[].groupBy every sum keeps the groupBy labels: each group has its own series and alerts.
//
// # Silence
//
// No SLO goes silent: SLOInputAbsent fires when an SLO's requests have been absent for an hour (selectors
// that match nothing, metrics without the namespace label the operator adds), SLOThresholdNotABucket when a
// classic histogram has requests but no bucket at the threshold, and SLOGroupsAboveBound when a grouped SLO
// has more groups than spec.slos[].maxGroups. ServiceNotScraped fires only when neither the ServiceMonitor's
// up series nor any SLO's requests exist. Each carries a field label naming what to fix.
//
// # Burn-rate alerts
//
// An alert fires when the error ratio over both its long and its short window exceeds burnRate × (1 −
// objective). Its value is the burn rate over the long window. The default tiers, for a 30-day SLO:
//
//	tier         severity  burn rate  long  short  budget spent when it fires
//	page-fast    page      14.4       1h    5m     2%   (14.4 × 1h / 30d)
//	page-slow    page      6          6h    30m    5%   (6 × 6h / 30d)
//	ticket-fast  ticket    3          1d    2h     10%  (3 × 1d / 30d)
//	ticket-slow  ticket    1          3d    6h     10%  (1 × 3d / 30d)
//
// For another SLO window W, both windows of every default tier scale by W / 30d (rounded to the minute, at
// least 5m so that rate() spans several scrapes), so each tier still fires after spending the same share of
// the budget: budget spent = burnRate × long / W. Durations that are whole days are written in days (7d,
// 28d), others the Prometheus way (1h24m). A tier named in spec.slos[].alerting.tiers replaces the default's
// fields that it sets (its windows are taken as written), can be disabled, or is added when the name is new.
// Every alert has the labels severity (renamable), burnrate_tier, long_window, short_window, service, slo,
// tier and namespace, so Alertmanager can inhibit the slower tier while the faster one fires.
package slo
