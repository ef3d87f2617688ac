package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Rule ids of the manifesto that the operator judges in status.compliance[] (docs/manifesto.md lists every
// id and what the operator does about it).
const (
	RuleO2 = "O-2" // series and logs carry the service's name
	RuleO5 = "O-5" // log retention of the tier
	RuleO6 = "O-6" // metrics under /metrics
	RuleO7 = "O-7" // metrics on port 8067
	RuleO8 = "O-8" // a version metric
	RuleO9 = "O-9" // availability and latency SLOs
	RuleP3 = "P-3" // at most the limit's share on spot nodes
	RuleR1 = "R-1" // aim above the objective promised to customers
	RuleR2 = "R-2" // a dedicated SLO target above the external one
	RuleR3 = "R-3" // game days and restore drills, measured
	RuleR4 = "R-4" // a disaster-recovery plan and runbook
	RuleS2 = "S-2" // nothing public that should not be
	RuleS3 = "S-3" // secrets in secret stores, not in manifests
	RuleS4 = "S-4" // network access limited to the sources needed
	RuleD6 = "D-6" // a service can be turned off and on (drains) without harming others
)

// ManifestoRules are every rule id of the manifesto, in its order. spec.exceptions[].rule must be one of
// them (the CRD's rule on Exception.Rule lists the same ids; a test keeps the two equal).
var ManifestoRules = []string{
	"F-1", "F-2", "F-3",
	"C-1", "C-2", "C-3", "C-4",
	"D-1", "D-2", "D-3", "D-4", "D-5", "D-6",
	"O-1", "O-2", "O-3", "O-4", "O-5", "O-6", "O-7", "O-8", "O-9", "O-10", "O-11",
	"P-1", "P-2", "P-3", "P-4",
	"R-1", "R-2", "R-3", "R-4",
	"S-1", "S-2", "S-3", "S-4", "S-5", "S-6",
}

// MaxExceptionLifetime is how far ahead spec.exceptions[].expires may be at admission: the rules are
// reviewed twice a year (F-3), so an exception comes up again at the next review at the latest.
const MaxExceptionLifetime = 183 // days

// ComplianceResult is the verdict on one rule.
// +kubebuilder:validation:Enum=Pass;Fail;Waived;NotApplicable;Unknown
type ComplianceResult string

const (
	// CompliancePass: the rule is met, as far as the operator can see.
	CompliancePass ComplianceResult = "Pass"
	// ComplianceFail: the rule is not met, and no exception in force covers it.
	ComplianceFail ComplianceResult = "Fail"
	// ComplianceWaived: the rule is not met, and an exception covers it until it expires (F-1).
	ComplianceWaived ComplianceResult = "Waived"
	// ComplianceNotApplicable: the rule does not apply to this service (such as R-4 for a non-critical one).
	ComplianceNotApplicable ComplianceResult = "NotApplicable"
	// ComplianceUnknown: the operator cannot tell, such as P-3 without --spot-placement; the message says
	// what it would need.
	ComplianceUnknown ComplianceResult = "Unknown"
)

// RuleVerdict is the operator's verdict on one manifesto rule for the service.
type RuleVerdict struct {
	// Rule is the manifesto rule id, such as "O-7".
	Rule string `json:"rule"`
	// Result is the verdict.
	Result ComplianceResult `json:"result"`
	// Message says what was checked and found, and for a waived rule the exception and its expiry.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when the result last changed.
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
}
