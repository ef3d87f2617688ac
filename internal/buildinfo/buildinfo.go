// Package buildinfo holds the operator's version and exports it as a metric (O-8).
package buildinfo

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// Version and Revision are set at build time with -ldflags -X; a plain `go build` says "dev".
var (
	Version  = "dev"
	Revision = "unknown"
)

// Service is the `service` label and log field of the operator itself (O-2, O-6).
const Service = "reliability-operator"

// Collector is the constant gauge reliability_operator_build_info{version,revision,goversion,service} 1.
func Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "reliability_operator_build_info",
		Help: "The version of the running reliability-operator (always 1).",
		ConstLabels: prometheus.Labels{
			"version": Version, "revision": Revision, "goversion": runtime.Version(), "service": Service,
		},
	}, func() float64 { return 1 })
}
