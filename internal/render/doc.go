// Package render turns a ReliabilityProfile into the objects the cluster should hold for it.
//
// Everything here is a pure function of the profile and Options: no client, no clock, no context, no
// randomness. The controller and the offline CLI call the same functions, and golden files under testdata/
// pin their output. Render does not talk to the API server and does not know what exists; deciding what to
// write is the applier's job (internal/apply).
package render
