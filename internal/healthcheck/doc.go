// Package healthcheck holds the tests of the health checks the project ships for GitOps tools: the
// profile's kstatus conditions (read by Flux, kpt and kubectl-style waiters), Argo CD's Lua script
// (config/argocd) and Flux's healthCheckExprs (config/flux). Each is evaluated on real profiles that an
// operator on a real API server (envtest) has reconciled, with the library the tool itself runs: cli-utils'
// kstatus, gopher-lua and cel-go. The package has no code of its own to import.
package healthcheck
