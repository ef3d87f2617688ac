// Package openslo turns OpenSLO v1 documents (apiVersion openslo/v1) into ReliabilityProfiles. It is pure:
// it reads decoded documents and returns profiles as plain objects, notes and refusals; it reads no file,
// validates nothing against the CRD (the CLI does, with internal/validate) and imports no client.
//
// The mapping, and what it refuses (each refusal names the document, its metadata.name and the OpenSLO
// field):
//
//   - Service: one profile per service name, named after it; spec.service is the name. SLOs join the profile
//     of the service their spec.service names; a service named only by SLOs still gets its profile.
//     metadata.labels with a string value and a key that is a Prometheus label name become spec.routing.labels
//     (the operator's own labels, list values and other keys are left out with a note); metadata.annotations
//     without a prefix become spec.routing.annotations the same way.
//   - SLO: one spec.slos[] entry per objective, named after the SLO, or <slo>-<objective displayName or
//     index> when there are several. objectives[].target 0.999 is objective "99.9"; targetPercent is taken
//     as it is. spec.description is kept; labels and annotations become the SLO's routing.
//   - timeWindow: a rolling duration of whole days or weeks from 7d to 90d maps to window; none gives the
//     profile's default, 30d, with a note. A calendar window is refused: the operator's windows roll, and a
//     budget that resets on the 1st of the month would be a different promise.
//   - budgetingMethod: Occurrences maps. Timeslices is refused: it counts slices whose own ratio meets
//     timeSliceTarget, a threshold on a per-slice SLI that no indicator of the operator computes (a
//     boolGauge counts samples of a 0/1 gauge, not slices of a ratio, and OpenSLO does not say that a
//     metric is such a gauge). RatioTimeslices is refused: it averages slice ratios, weighing a quiet slice
//     as much as a busy one, where a profile weighs every event the same. objectives[].op, value,
//     timeSliceTarget, timeSliceWindow and compositeWeight are left out with a note.
//   - indicator inline, or indicatorRef to an SLI document among the inputs (refused when absent). Composite
//     objectives (objectives[].indicator or indicatorRef) are refused.
//   - ratioMetric with good or bad, and total, each of metricSource type Prometheus (or a metricSourceRef to
//     a DataSource of type Prometheus among the inputs) and spec.query:
//     plain selectors of counters (counter true, or omitted) map to indicator.ratio (bad is errors); good
//     plain selectors map to indicator.promQL with errors `sum(rate(total[$window])) - sum(rate(good[$window]))`; expressions whose
//     range selectors all have the same range map to indicator.promQL with that range replaced by $window;
//     a sum of a counter without a range (sum(c), as the specification's own Prometheus example writes its
//     good events) maps to the same sum of rate(c[$window]), beside a plain selector summed the same way.
//     Refused: counter false with plain selectors (a gauge is not an event count), any other expression
//     without a range selector, with different ranges, with a subquery or with offset or @, raw ratios, another source
//     type, and thresholdMetric (a threshold on a raw value is not a ratio of events; even a
//     histogram_quantile would need the threshold as a bucket bound, which OpenSLO does not say).
//   - AlertPolicy, AlertCondition and AlertNotificationTarget documents and spec.alertPolicies are left out
//     with a note: the operator renders its own multi-window multi-burn-rate alerts. DataSource documents are
//     only read to resolve metricSourceRef.
//
// What OpenSLO lacks and a profile needs comes from Options: the namespace, the tier (no default: a wrong
// tier changes retention and the disaster-recovery rules) and the pod selector (app=<service> when unset).
package openslo
