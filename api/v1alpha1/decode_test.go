package v1alpha1_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	kjson "sigs.k8s.io/json"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

const storedProfile = `{"apiVersion":"reliability.dev/v1alpha1","kind":"ReliabilityProfile",
 "metadata":{"name":"checkout","namespace":"shop","uid":"u-1","generation":4,"finalizers":["reliability.dev/cleanup"]},
 "spec":{"service":"checkout","tier":"critical","selector":{"matchLabels":{"app":"checkout"}},
  "disruption":%s,"slos":[{"name":"availability","objective":"99.9","indicator":{"ratio":{"errors":"e","total":"t"}}}]},
 "status":{"observedGeneration":3,"conditions":[{"type":"Ready","status":"True","reason":"Reconciled","message":"4 children in sync.","lastTransitionTime":"2026-11-24T10:00:00Z","observedGeneration":3}]}}`

func stored(disruption string) []byte {
	return []byte(strings.Replace(storedProfile, "%s", disruption, 1))
}

// plainDecode decodes as the API machinery did before ReliabilityProfile had its own UnmarshalJSON.
func plainDecode(data []byte, into any) error {
	return kjson.UnmarshalCaseSensitivePreserveInts(data, into)
}

func TestAReadableProfileDecodesAsBefore(t *testing.T) {
	for _, disruption := range []string{`{"maxUnavailable":1}`, `{"minAvailable":"50%"}`, `{"maxUnavailable":2147483647}`} {
		data := stored(disruption)
		got := &v1alpha1.ReliabilityProfile{}
		if err := json.Unmarshal(data, got); err != nil {
			t.Fatal(err)
		}
		if got.DecodeError() != nil {
			t.Errorf("%s: decode error %v", disruption, got.DecodeError())
		}
		// The same fields as the spec and status decoded on their own, without the profile's UnmarshalJSON.
		var want struct {
			Spec   v1alpha1.ReliabilityProfileSpec   `json:"spec"`
			Status v1alpha1.ReliabilityProfileStatus `json:"status"`
		}
		if err := plainDecode(data, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Spec, want.Spec) || !reflect.DeepEqual(got.Status, want.Status) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", disruption, got.Spec, want.Spec)
		}
		if got.Name != "checkout" || got.Generation != 4 || got.Kind != "ReliabilityProfile" {
			t.Errorf("%s: metadata %+v %+v", disruption, got.TypeMeta, got.ObjectMeta)
		}
	}
}

func TestAProfileWithAValueTheTypesCannotHoldKeepsItsIdentityAndSaysWhichField(t *testing.T) {
	tests := []struct {
		name, json     string
		field, problem string
		statusKept     bool
	}{
		{"maxUnavailable beyond int32", string(stored(`{"maxUnavailable":99999999999}`)),
			"spec.disruption.maxUnavailable", "the stored number 99999999999 cannot be read as int32", true},
		{"minAvailable beyond int32", string(stored(`{"minAvailable":4294967297}`)),
			"spec.disruption.minAvailable", "the stored number 4294967297 cannot be read as int32", true},
		{"a number where a string belongs", strings.Replace(string(stored(`{"maxUnavailable":1}`)), `"objective":"99.9"`, `"objective":99.9`, 1),
			"spec.slos.objective", "the stored number cannot be read as string", true},
		{"an unreadable status, with a readable spec", strings.Replace(string(stored(`{"maxUnavailable":1}`)), `"observedGeneration":3,`, `"observedGeneration":"3",`, 1),
			"status.observedGeneration", "the stored string cannot be read as int64", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := &v1alpha1.ReliabilityProfile{}
			if err := json.Unmarshal([]byte(tt.json), rp); err != nil {
				t.Fatalf("one unreadable value failed the profile: %v", err)
			}
			var decodeErr *v1alpha1.DecodeError
			if !errors.As(rp.DecodeError(), &decodeErr) {
				t.Fatalf("DecodeError() = %v, want a *DecodeError", rp.DecodeError())
			}
			if decodeErr.Field != tt.field || decodeErr.Problem != tt.problem || decodeErr.Service != "checkout" {
				t.Errorf("DecodeError = %+v, want field %s, problem %q, service checkout", decodeErr, tt.field, tt.problem)
			}
			if rp.Name != "checkout" || rp.Namespace != "shop" || rp.UID != "u-1" || rp.Generation != 4 ||
				len(rp.Finalizers) != 1 || rp.APIVersion != "reliability.dev/v1alpha1" {
				t.Errorf("identity lost: %+v %+v", rp.TypeMeta, rp.ObjectMeta)
			}
			inSpec := strings.HasPrefix(tt.field, "spec")
			if inSpec != decodeErr.InSpec() {
				t.Errorf("InSpec() = %v", decodeErr.InSpec())
			}
			// What could not be read is empty, not half-read: nothing may take it for the profile's intent.
			if inSpec && !reflect.DeepEqual(rp.Spec, v1alpha1.ReliabilityProfileSpec{}) {
				t.Errorf("spec = %+v, want empty", rp.Spec)
			}
			if !inSpec && rp.Spec.Service != "checkout" {
				t.Errorf("the readable spec was dropped: %+v", rp.Spec)
			}
			if kept := rp.Status.ObservedGeneration == 3 && len(rp.Status.Conditions) == 1; kept != tt.statusKept {
				t.Errorf("status = %+v, want kept: %v", rp.Status, tt.statusKept)
			}
			if cp := rp.DeepCopy(); !reflect.DeepEqual(cp.DecodeError(), rp.DecodeError()) {
				t.Errorf("DeepCopy lost the decode error: %v", cp.DecodeError())
			}
			// Decoded again from a readable profile, the error is gone.
			if err := json.Unmarshal(stored(`{"maxUnavailable":1}`), rp); err != nil || rp.DecodeError() != nil {
				t.Errorf("re-decoded: %v %v", err, rp.DecodeError())
			}
		})
	}
}

// TestOneUnreadableProfileDoesNotFailTheList decodes a list the way the operator's client and cache do (the
// scheme's codecs): before, the one profile failed the whole list.
func TestOneUnreadableProfileDoesNotFailTheList(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	list := `{"apiVersion":"reliability.dev/v1alpha1","kind":"ReliabilityProfileList","metadata":{"resourceVersion":"7"},"items":[` +
		string(stored(`{"maxUnavailable":99999999999}`)) + `,` +
		strings.Replace(string(stored(`{"maxUnavailable":1}`)), `"name":"checkout"`, `"name":"search"`, 1) + `]}`
	obj, _, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode([]byte(list), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	items := obj.(*v1alpha1.ReliabilityProfileList).Items
	if len(items) != 2 || items[0].DecodeError() == nil || items[1].DecodeError() != nil || items[1].Spec.Service != "checkout" {
		t.Fatalf("items = %+v", items)
	}
}

func TestWhatIsNotAProfileStillFails(t *testing.T) {
	for _, data := range []string{`[1,2]`, `"x"`, `{"metadata":{"name":7},"spec":{}}`} {
		if err := json.Unmarshal([]byte(data), &v1alpha1.ReliabilityProfile{}); err == nil {
			t.Errorf("%s decoded without error", data)
		}
	}
}

// FuzzUnmarshalJSON: whatever the input, a profile decoded without a decode error is exactly what the plain
// decoder gives, and a decode error never hides a failure of the metadata.
func FuzzUnmarshalJSON(f *testing.F) {
	f.Add(stored(`{"maxUnavailable":1}`))
	f.Add(stored(`{"maxUnavailable":99999999999}`))
	f.Add(stored(`{"minAvailable":"4294967297"}`))
	f.Add([]byte(`{"metadata":{"name":"x"},"status":{"conditions":7}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := &v1alpha1.ReliabilityProfile{}
		err := json.Unmarshal(data, got)
		type plain v1alpha1.ReliabilityProfile
		want := &plain{}
		plainErr := plainDecode(data, want)
		switch {
		case err != nil:
			if plainErr == nil {
				t.Fatalf("failed (%v) where the plain decoder did not", err)
			}
		case got.DecodeError() == nil:
			if plainErr != nil {
				t.Fatalf("no decode error where the plain decoder failed: %v", plainErr)
			}
			if !reflect.DeepEqual((*plain)(got), want) {
				t.Fatalf("decoded %+v, the plain decoder %+v", got, want)
			}
		default:
			if plainErr == nil {
				t.Fatalf("decode error %v where the plain decoder succeeded", got.DecodeError())
			}
			var meta struct {
				Meta json.RawMessage `json:"metadata"`
			}
			if plainDecode(data, &meta) != nil {
				t.Fatalf("decode error %v for input whose metadata cannot be read", got.DecodeError())
			}
		}
	})
}
