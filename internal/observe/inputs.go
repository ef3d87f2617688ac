package observe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// The alerts the rendered rules raise when an SLO's inputs are wrong (internal/slo). Their labels are those
// of every SLO alert (namespace, service, slo, tier, severity) and field, the spec path of the input.
const (
	InputAbsentAlert         = "SLOInputAbsent"
	ThresholdNotABucketAlert = "SLOThresholdNotABucket"
)

// InputAlert is one pending or firing SLOInputAbsent or SLOThresholdNotABucket alert.
type InputAlert struct {
	// Alert is InputAbsentAlert or ThresholdNotABucketAlert.
	Alert string
	SLO   string
	// Field is the spec path of the input, such as spec.slos[0].indicator.ratio.total.
	Field string
	// Firing is true when the alert fires, false while it is pending.
	Firing bool
}

// inputAlerts reads the input alerts of every profile in one query, pending and firing alike: an input
// that is absent is wrong before the alert's for-duration has passed.
func (o *Observer) inputAlerts(ctx context.Context, now time.Time) (map[serviceKey][]InputAlert, error) {
	query := fmt.Sprintf(`ALERTS{alertname=~"%s|%s"}`, InputAbsentAlert, ThresholdNotABucketAlert)
	v, _, _, err := o.API.Query(ctx, query, now)
	if err != nil {
		return nil, fmt.Errorf("querying %s from Prometheus: %w", query, err)
	}
	vec, _ := v.(model.Vector)
	out := map[serviceKey][]InputAlert{}
	for _, s := range vec {
		k := serviceKey{string(s.Metric["namespace"]), string(s.Metric["service"])}
		a := InputAlert{Alert: string(s.Metric[model.AlertNameLabel]), SLO: string(s.Metric["slo"]),
			Field: string(s.Metric["field"]), Firing: s.Metric["alertstate"] == "firing"}
		// The same alert pending and firing (two tiers while the tier changes) is one finding: firing.
		if i := slices.IndexFunc(out[k], func(b InputAlert) bool { return b.Alert == a.Alert && b.Field == a.Field && b.SLO == a.SLO }); i >= 0 {
			out[k][i].Firing = out[k][i].Firing || a.Firing
			continue
		}
		out[k] = append(out[k], a)
	}
	for k := range out {
		slices.SortFunc(out[k], func(a, b InputAlert) int {
			if a.Field != b.Field {
				return strings.Compare(a.Field, b.Field)
			}
			return strings.Compare(a.Alert, b.Alert)
		})
	}
	return out, nil
}
