package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

const refusedProfile = `{"apiVersion":"reliability.dev/v1alpha1","kind":"ReliabilityProfile",
"metadata":{"name":"checkout","namespace":"shop"%s},
"spec":{"service":"checkout","tier":"non-critical","selector":{"matchLabels":{"app":"checkout"}},
"slos":[{"name":"availability","objective":"99.9","window":"30d",
"indicator":{"ratio":{"errors":"rate(http_requests_total[5m])","total":"http_requests_total"}}}]}}`

func TestTheProfileValidationRefusesASpecAndLetsAnUnchangedOneThrough(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	v := &ProfileValidation{Decoder: admission.NewDecoder(scheme), Render: render.Options{}}
	object := func(meta string) runtime.RawExtension {
		return runtime.RawExtension{Raw: []byte(strings.ReplaceAll(refusedProfile, "%s", meta))}
	}
	tests := []struct {
		name        string
		op          admissionv1.Operation
		obj, old    runtime.RawExtension
		wantAllowed bool
	}{
		{"a create of a spec render refuses", admissionv1.Create, object(""), runtime.RawExtension{}, false},
		{"an update that changes the spec to one render refuses", admissionv1.Update, object(""),
			runtime.RawExtension{Raw: []byte(`{"spec":{"service":"other"}}`)}, false},
		{"an update that only removes a finalizer from a refused spec", admissionv1.Update, object(""),
			object(`,"finalizers":["reliability.dev/cleanup"]`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := v.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Operation: tt.op, Namespace: "shop", Name: "checkout", Object: tt.obj, OldObject: tt.old}})
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed {
				causes := resp.Result.Details.Causes
				if len(causes) == 0 || causes[0].Field != "spec.slos[0].indicator.ratio.errors" || resp.Result.Code != 422 {
					t.Errorf("refusal = %+v, want 422 naming spec.slos[0].indicator.ratio.errors", resp.Result)
				}
			}
		})
	}
}
