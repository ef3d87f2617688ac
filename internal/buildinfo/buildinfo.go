// Package buildinfo holds the operator's version and exports it as a metric (O-8).
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version and Revision are set at build time with -ldflags -X; without, they are read from the build
// information Go records (see init), and are "dev" and "unknown" only when it has none.
var (
	Version  = "dev"
	Revision = "unknown"
)

// A binary built by `go install github.com/reliability-operator/reliability-operator@vX.Y.Z`, as the CI
// recipe of the README does, has no -ldflags: it still knows its module version, and, built from a
// checkout, its commit.
func init() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		Version = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && Revision == "unknown" {
			Revision = s.Value
		}
	}
}

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
