package v1alpha1

// Defaults of the API. The CRD schema applies the same values at admission (see the +kubebuilder:default
// markers); these constants serve code that reads a profile the API server has not defaulted, such as the CLI.
const (
	// DefaultMetricsPort is the metrics port of every service (O-7).
	DefaultMetricsPort int32 = 8067
	// DefaultMetricsPath is the metrics path of every service (O-6).
	DefaultMetricsPath = "/metrics"
	// DefaultScrapeInterval is the scrape interval when the profile names none.
	DefaultScrapeInterval = "30s"
	// DefaultMaxUnavailable is the PodDisruptionBudget when the profile declares none (D-6).
	DefaultMaxUnavailable int32 = 1
	// DefaultMonitoringNamespace is the namespace allowed to scrape metrics when the profile names none.
	DefaultMonitoringNamespace = "monitoring"
)
