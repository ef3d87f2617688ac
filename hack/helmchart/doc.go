// Package helmchart holds the tests of the Helm chart in charts/reliability-operator: it installs what
// config/ installs (helm template against kustomize build, object by object), every operator flag is one of
// its values, `helm lint --strict` passes, a real kube-apiserver accepts what it templates, and its version
// is the repository's VERSION. It has no code of its own.
package helmchart
