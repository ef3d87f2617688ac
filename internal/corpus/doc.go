// Package corpus holds no code: its test sends every profile of testdata/profiles to a real kube-apiserver
// with the operator's CRD and validating webhook, runs the offline validation of `reliability-operator
// validate` on the same documents, and checks that both reach the verdict each file's header states (see
// testdata/profiles/README.md).
package corpus
