// Package compliance judges a service against the manifesto rules the operator can see, one pure check per
// rule, each giving a result and a message (the shape of cert-manager's certificate policy chain). It reads a
// Snapshot the controller gathers and applies the profile's exceptions until they expire (F-1, F-3). It
// imports no client and reads no clock: the snapshot carries the time.
package compliance
