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
// The SLO window ratio is computed from the recorded 5m rates (sum_over_time of each, then divided), so
// Prometheus never evaluates a 30-day rate() over raw series; it is traffic-weighted, and exact once the
// recorded series are as old as the window. It and the budget remaining are in a group of their own,
// <service>-slo-<name>-window, evaluated every 5 minutes (Service.WindowInterval): they read a whole window
// of samples, and move slowly.
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
