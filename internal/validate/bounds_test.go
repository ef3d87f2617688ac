package validate_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/validate"
)

// leaf is one bounded place of the CRD's spec schema, with its path in a profile: "spec.slos[].name".
type leaf struct {
	path   []string // property names; "[]" steps into a list's item
	schema apiextensionsv1.JSONSchemaProps
}

func specLeaves(t *testing.T) []leaf {
	t.Helper()
	crd := generatedCRD(t)
	var out []leaf
	var walk func(path []string, s apiextensionsv1.JSONSchemaProps)
	walk = func(path []string, s apiextensionsv1.JSONSchemaProps) {
		out = append(out, leaf{path: append([]string(nil), path...), schema: s})
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			walk(append(path, n), s.Properties[n])
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(append(path, "[]"), *s.Items.Schema)
		}
	}
	walk([]string{"spec"}, crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"])
	if len(out) < 100 {
		t.Fatalf("found %d schema nodes under spec; the walk is broken", len(out))
	}
	return out
}

func (l leaf) String() string { return strings.ReplaceAll(strings.Join(l.path, "."), ".[]", "[]") }

// Every value a profile can hold is bounded in the CRD, so that nothing the API server stores is larger than
// the Go types or the children accept, and the whole object stays small enough for its status to be written.
func TestEveryFieldOfTheSpecIsBounded(t *testing.T) {
	for _, l := range specLeaves(t) {
		s := l.schema
		switch {
		case s.XIntOrString:
			if len(s.XValidations) == 0 {
				t.Errorf("%s: an int-or-string without a CEL rule bounding it", l)
			}
		case s.Type == "integer":
			if s.Maximum == nil || s.Minimum == nil {
				t.Errorf("%s: an integer without minimum and maximum", l)
			}
		case s.Type == "string":
			if s.MaxLength == nil && len(s.Enum) == 0 && s.Format != "date" {
				t.Errorf("%s: a string without maxLength, enum or date format", l)
			}
		case s.Type == "array":
			if s.MaxItems == nil {
				t.Errorf("%s: a list without maxItems", l)
			}
		case s.Type == "object" && s.AdditionalProperties != nil:
			if s.MaxProperties == nil {
				t.Errorf("%s: a map without maxProperties", l)
			}
			// A map's keys and values cannot carry maxLength in the schema: a CEL rule bounds them.
			if v := s.AdditionalProperties.Schema; v != nil && v.Type == "string" && v.MaxLength == nil && len(s.XValidations) == 0 {
				t.Errorf("%s: a map of strings without a rule bounding its keys and values", l)
			}
		}
	}
}

// At every integer's bounds, and at every string's longest, the profile decodes into the Go types, and the
// offline admission (the CRD and the webhook's review, as the API server runs them) either accepts it,
// and then it renders, or refuses it naming a field: never a panic, never a stored profile the operator
// cannot read.
func TestAtEveryBoundAProfileDecodesRendersOrIsRefusedByField(t *testing.T) {
	crd, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.New(crd, "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "reliability_v1alpha1_reliabilityprofile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, l := range specLeaves(t) {
		var values []any
		s := l.schema
		switch {
		case s.XIntOrString:
			values = []any{int64(1000000), int64(1000001), int64(2147483647), int64(99999999999)}
		case s.Type == "integer":
			values = []any{int64(*s.Minimum), int64(*s.Maximum), int64(*s.Maximum) + 1}
		case s.Type == "string" && s.MaxLength != nil:
			values = []any{strings.Repeat("9", int(*s.MaxLength)), strings.Repeat("9", int(*s.MaxLength)+1)}
		default:
			continue
		}
		for _, value := range values {
			name := fmt.Sprintf("%s=%v", l, value)
			if s, ok := value.(string); ok && len(s) > 12 {
				name = fmt.Sprintf("%s=%d characters", l, len(s))
			}
			t.Run(name, func(t *testing.T) {
				obj := map[string]any{}
				if err := yaml.Unmarshal(base, &obj); err != nil {
					t.Fatal(err)
				}
				set(obj, l.path, value)
				verdict := v.Profile(obj, render.Options{VeleroNamespace: "velero"})
				for _, e := range verdict.Errors {
					if e.Field == "" && !strings.Contains(e.Detail, "were not checked") {
						t.Errorf("a refusal names no field: %v", e)
					}
				}
				if len(verdict.Errors) > 0 {
					return
				}
				// Accepted: what the API server would store decodes into the types and renders.
				b, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				rp := &v1alpha1.ReliabilityProfile{}
				if err := json.Unmarshal(b, rp); err != nil {
					t.Fatalf("accepted, but the Go types cannot hold it: %v", err)
				}
				if err := rp.DecodeError(); err != nil {
					t.Fatalf("accepted, but the Go types cannot hold it: %v", err)
				}
				if _, err := render.Render(rp, render.Options{VeleroNamespace: "velero"}); err != nil {
					t.Fatalf("accepted, but it does not render: %v", err)
				}
			})
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("checked %d extremes; the walk is broken", checked)
	}
}

// set puts value at path in obj, creating what is missing: one list item where the path steps into a list.
func set(obj map[string]any, path []string, value any) {
	var cur any = obj
	for i := 1; i < len(path); i++ { // path[0] is "spec"
		next := path[i]
		last := i == len(path)-1
		if i == 1 {
			spec, _ := obj["spec"].(map[string]any)
			cur = spec
		}
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[next] = value
				return
			}
			if path[i+1] == "[]" {
				if _, ok := c[next].([]any); !ok {
					c[next] = []any{map[string]any{}}
				}
			} else if _, ok := c[next].(map[string]any); !ok {
				c[next] = map[string]any{}
			}
			cur = c[next]
		case []any:
			if next != "[]" {
				return
			}
			if last {
				c[0] = value
				return
			}
			if _, ok := c[0].(map[string]any); !ok {
				if path[i+1] == "[]" {
					c[0] = []any{map[string]any{}}
				} else {
					c[0] = map[string]any{}
				}
			}
			cur = c[0]
		}
	}
}
