// Package controllers holds the reconcilers. They orchestrate and nothing else: fetch the profile, render
// (internal/render), apply (internal/apply), set status with the pure setters of *_status.go, and write the
// status once when it changed.
package controllers
