// Package validate applies the admission rules of the ReliabilityProfile CRD and of the operator's
// validating webhook offline: the same generated
// CRD, the same apiextensions code the API server runs (pruning of unknown fields, defaulting, OpenAPI schema
// validation, list-map keys, CEL rules). The envtest admission tests check that it reaches the API server's
// verdict on every case. The CLI uses it so that a GitOps pipeline refuses a profile before Argo CD tries
// to sync it.
package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/admission"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// Validator holds the compiled rules of one version of a CRD.
type Validator struct {
	// Now dates the review of spec.exceptions, as the webhook's clock does; time.Now when nil.
	Now func() time.Time

	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// New compiles the schema of the given version of a CRD (YAML).
func New(crdYAML []byte, version string) (*Validator, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(crdYAML, crd); err != nil {
		return nil, fmt.Errorf("reading the CRD: %w", err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version || v.Schema == nil {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return nil, err
		}
		structural, err := structuralschema.NewStructural(internal)
		if err != nil {
			return nil, fmt.Errorf("the CRD's schema is not structural: %w", err)
		}
		schemaValidator, _, err := apiservervalidation.NewSchemaValidator(internal)
		if err != nil {
			return nil, err
		}
		return &Validator{
			structural: structural,
			schema:     schemaValidator,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}, nil
	}
	return nil, fmt.Errorf("the CRD %s has no version %s with a schema", crd.Name, version)
}

// Validate checks an object as the API server would at creation, with strict field validation (as
// `kubectl apply` asks for): unknown fields are errors. It applies the CRD's defaults to obj in place, so
// that the caller can go on with what the API server would have stored. Like the API server, it reports the
// schema's and the CEL rules' errors together, and leaves the CEL rules out only when the object is not of
// the schema's shape (a wrong type, a missing or unsupported value, a list or string over its bound).
func (v *Validator) Validate(obj map[string]any) field.ErrorList {
	return v.validate(obj, nil)
}

func (v *Validator) validate(obj map[string]any, metaErrs field.ErrorList) field.ErrorList {
	// Strict field validation refuses the request while decoding it, before any other check: an unknown
	// field is then the only error reported.
	var unknowns field.ErrorList
	for _, unknown := range pruning.PruneWithOptions(obj, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		unknowns = append(unknowns, field.Forbidden(field.NewPath(unknown), "unknown field"))
	}
	unknowns = append(unknowns, unknownMetadataFields(obj)...)
	if len(unknowns) > 0 {
		return unknowns
	}
	errs := append(field.ErrorList(nil), metaErrs...)
	structuraldefaulting.Default(obj, v.structural)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, v.schema)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	if blocking(errs) {
		return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	}
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// objectMetaFields are the JSON names of ObjectMeta's fields: the CRD's schema says nothing of metadata, and
// the API server decodes it into ObjectMeta, strictly.
var objectMetaFields = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(metav1.ObjectMeta{})
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

func unknownMetadataFields(obj map[string]any) field.ErrorList {
	meta, _ := obj["metadata"].(map[string]any)
	var errs field.ErrorList
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !objectMetaFields[k] {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", k), "unknown field"))
		}
	}
	return errs
}

// blocking tells the errors after which the API server does not run CEL rules: they assume a well-formed
// object.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// Profile checks one ReliabilityProfile document as a create through the API server would: the object's
// name and namespace, the CRD's schema and CEL rules, then, when those pass, the operator's validating
// webhook (internal/admission) with the given render options. The verdict has every error the API server
// would report, with the same field paths, and the webhook's warnings. A profile without a namespace is
// checked in "default", as `kubectl apply` would create it.
func (v *Validator) Profile(obj map[string]any, opts render.Options) admission.Verdict {
	if obj["apiVersion"] != v1alpha1.GroupVersion.String() || obj["kind"] != "ReliabilityProfile" {
		return admission.Verdict{Errors: field.ErrorList{field.Invalid(field.NewPath("kind"), fmt.Sprintf("%v %v", obj["apiVersion"], obj["kind"]),
			"not a ReliabilityProfile of "+v1alpha1.GroupVersion.String())}}
	}
	var metaErrs field.ErrorList
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	switch {
	case name == "":
		metaErrs = append(metaErrs, field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	default:
		for _, msg := range k8svalidation.IsDNS1123Subdomain(name) {
			metaErrs = append(metaErrs, field.Invalid(field.NewPath("metadata", "name"), name, msg))
		}
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		for _, msg := range k8svalidation.IsDNS1123Label(ns) {
			metaErrs = append(metaErrs, field.Invalid(field.NewPath("metadata", "namespace"), ns, msg))
		}
	}
	if errs := v.validate(obj, metaErrs); len(errs) > 0 {
		return admission.Verdict{Errors: errs}
	}
	rp, err := Decode(obj)
	if err != nil {
		return admission.Verdict{Errors: field.ErrorList{field.Invalid(field.NewPath("spec"), nil, err.Error())}}
	}
	if rp.Namespace == "" {
		rp.Namespace = "default"
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	verdict := admission.Review(rp, opts)
	exceptions := admission.ReviewDates(rp, nil, now()) // as a create: every exception and game day is new
	verdict.Errors = append(verdict.Errors, exceptions.Errors...)
	verdict.Warnings = append(verdict.Warnings, exceptions.Warnings...)
	return verdict
}

// Decode reads a checked document into the Go types the way the operator's client reads a stored object:
// through JSON, so that the types' own decoding applies.
func Decode(obj map[string]any) (*v1alpha1.ReliabilityProfile, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	rp := &v1alpha1.ReliabilityProfile{}
	if err := json.Unmarshal(b, rp); err != nil {
		return nil, err
	}
	return rp, nil
}
