package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	reviewer "github.com/reliability-operator/reliability-operator/internal/admission"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// ProfileValidationPath is where the API server sends ReliabilityProfile creates and updates
// (config/webhook names it).
const ProfileValidationPath = "/validate-reliability-dev-v1alpha1-reliabilityprofile"

// ProfileValidation is the validating admission handler of ReliabilityProfiles: what the CRD's schema and
// CEL rules cannot check (internal/admission.Review), with the render options the operator runs with, so
// that a profile the operator would refuse to render is refused at `kubectl apply` and at Argo CD's sync.
// The API server calls it only after the schema and CEL rules passed.
type ProfileValidation struct {
	Decoder admission.Decoder
	Render  render.Options
	// Now is the clock that dates exceptions (spec.exceptions[].expires); time.Now when nil.
	Now func() time.Time
	// Policies reads the cluster's ReliabilityPolicy, whose backends and labels the review renders with, as
	// the controller does; nil when its CRD is not installed.
	Policies client.Reader
}

var _ admission.Handler = &ProfileValidation{}

// Handle reviews one profile. A panic is a refusal that says so, never a crash of the operator: the request
// is answered and the next one served.
func (v *ProfileValidation) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	defer func() {
		if r := recover(); r != nil {
			log.FromContext(ctx).Error(fmt.Errorf("%v", r), "Panicked while reviewing a ReliabilityProfile", "namespace", req.Namespace, "name", req.Name)
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("the operator failed to review this profile: %v", r))
		}
	}()
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	// A write that leaves the spec as it is (labels, finalizers) is allowed whatever the spec says: under OLM,
	// which cannot ship the configuration's matchCondition, a spec refused by a newer operator must not stop
	// the operator or anyone else from removing a finalizer.
	if req.Operation == admissionv1.Update && sameSpec(req.Object.Raw, req.OldObject.Raw) {
		return admission.Allowed("the spec is unchanged")
	}
	rp := &v1alpha1.ReliabilityProfile{}
	if err := v.Decoder.Decode(req, rp); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("reading the profile: %w", err))
	}
	if rp.Namespace == "" {
		rp.Namespace = req.Namespace
	}
	var old *v1alpha1.ReliabilityProfile
	if req.Operation == admissionv1.Update {
		old = &v1alpha1.ReliabilityProfile{}
		if err := v.Decoder.DecodeRaw(req.OldObject, old); err != nil {
			old = nil // an old object the types cannot read: every exception is checked as new
		}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	pol, err := policy.Get(ctx, v.Policies)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	verdict := reviewer.Review(rp, policy.Options(pol, v.Render))
	exceptions := reviewer.ReviewDates(rp, old, now())
	verdict.Errors = append(verdict.Errors, exceptions.Errors...)
	verdict.Warnings = append(verdict.Warnings, exceptions.Warnings...)
	if len(verdict.Errors) > 0 {
		return denied(rp, verdict, verdict.Denial())
	}
	return admission.Allowed("").WithWarnings(verdict.Warnings...)
}

// denied is a refusal in the shape the API server uses for its own validation errors (422 Invalid with one
// cause per field), so that kubectl, Argo CD and the corpus test read the fields the same way whichever layer
// refused.
func denied(rp *v1alpha1.ReliabilityProfile, verdict reviewer.Verdict, message string) admission.Response {
	causes := make([]metav1.StatusCause, 0, len(verdict.Errors))
	for _, e := range verdict.Errors {
		causes = append(causes, metav1.StatusCause{Type: metav1.CauseType(e.Type), Message: e.ErrorBody(), Field: e.Field})
	}
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed:  false,
		Warnings: verdict.Warnings,
		Result: &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusUnprocessableEntity,
			Reason:  metav1.StatusReasonInvalid,
			Message: fmt.Sprintf("ReliabilityProfile %q is invalid: %s", rp.Name, message),
			Details: &metav1.StatusDetails{Group: v1alpha1.GroupVersion.Group, Kind: "ReliabilityProfile", Name: rp.Name, Causes: causes},
		},
	}}
}

// sameSpec tells whether two versions of a profile, as JSON, hold the same spec.
func sameSpec(object, old []byte) bool {
	var a, b struct {
		Spec json.RawMessage `json:"spec"`
	}
	if json.Unmarshal(object, &a) != nil || json.Unmarshal(old, &b) != nil || len(a.Spec) == 0 {
		return false
	}
	var x, y any
	if json.Unmarshal(a.Spec, &x) != nil || json.Unmarshal(b.Spec, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
