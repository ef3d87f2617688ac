package render

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// typeMeta is set on every rendered object: the applier and the CLI need to know the kind without a scheme.
func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
