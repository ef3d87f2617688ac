package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Promtool is the real promtool: $PROMTOOL, or promtool on the PATH (.ci/run installs Debian's). Tests that
// need it fail without it rather than skip, so a green run always means the rules were checked.
func Promtool(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package or set PROMTOOL (`make test` does)")
	}
	return p
}
