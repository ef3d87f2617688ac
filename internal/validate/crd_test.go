package validate_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"sigs.k8s.io/yaml"
)

// The API server refuses a CRD whose CEL rules do not compile or whose estimated cost is over its limits;
// this finds that in a second, with the API server's own CRD validation, before any envtest starts.
func TestTheCRDPassesTheAPIServersOwnValidation(t *testing.T) {
	v1 := generatedCRD(t)
	// storedVersions is status the API server fills in; it is required by the same validation.
	v1.Status.StoredVersions = []string{v1.Spec.Versions[0].Name}
	internal := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1, internal, nil); err != nil {
		t.Fatal(err)
	}
	for _, e := range crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal) {
		t.Error(e)
	}
}

// generatedCRD is the CRD that controller-gen wrote into config/.
func generatedCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	b, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

var crdFile = filepath.Join("..", "..", "config", "crd", "bases", "reliability.dev_reliabilityprofiles.yaml")
