package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// crdOf picks the CRD of a kind from crdYAML, which holds the operator's CRDs as YAML documents.
func crdOf(crdYAML []byte, kind string) ([]byte, error) {
	for _, doc := range bytes.Split(crdYAML, []byte("\n---")) {
		var crd struct {
			Spec struct {
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		if yaml.Unmarshal(doc, &crd) == nil && crd.Spec.Names.Kind == kind {
			return doc, nil
		}
	}
	return nil, fmt.Errorf("this binary holds no CRD of %s", kind)
}

// loadPolicy reads --policy FILE: one ReliabilityPolicy, checked as the API server would admit it (its
// CRD's schema and rules), so that a policy the cluster would refuse is refused here too. An empty path is
// no policy: the flags decide, as for an operator whose cluster has none.
func loadPolicy(path string, crdYAML []byte) (*v1alpha1.ReliabilityPolicySpec, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	docs, err := split(path, b)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	if len(docs) != 1 || docs[0].Object == nil {
		return nil, fmt.Errorf("--policy %s: want one ReliabilityPolicy document, have %d documents", path, len(docs))
	}
	obj := docs[0].Object
	if obj["apiVersion"] != v1alpha1.GroupVersion.String() || obj["kind"] != "ReliabilityPolicy" {
		return nil, fmt.Errorf("--policy %s: %v %v is not a ReliabilityPolicy of %s", path, obj["apiVersion"], obj["kind"], v1alpha1.GroupVersion)
	}
	validator, err := validatorOf(crdYAML, "ReliabilityPolicy")
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	if errs := validator.Validate(obj); len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("--policy %s: the API server would refuse it: %s", path, strings.Join(msgs, "; "))
	}
	p := &v1alpha1.ReliabilityPolicy{}
	jb, err := yaml.Marshal(obj)
	if err == nil {
		err = yaml.UnmarshalStrict(jb, p)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("--policy %s", path), err)
	}
	return &p.Spec, nil
}
