package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func TestReportJudgesFilesOffline(t *testing.T) {
	crd, err := os.ReadFile(filepath.Join(testenv.OwnCRDDir(), "reliability.dev_reliabilityprofiles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	samples := filepath.Join(testenv.RepoRoot(), "config", "samples")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var out, errs bytes.Buffer
	if code := runReport([]string{"-f", samples}, nil, &out, &errs, crd, now); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	text := out.String()
	// search (config/samples' latency profile) declares no version metric and no network: it fails O-8 and
	// S-4, and comes before checkout, which fails fewer rules.
	for _, want := range []string{"COMPLIANT", "default/search O-8: No version metric declared", "default/search S-4:"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "search") > strings.Index(text, "checkout") {
		t.Errorf("the service failing more rules is not first:\n%s", text)
	}
	out.Reset()
	if code := runReport([]string{"-o", "html", "-f", samples}, nil, &out, &errs, crd, now); code != 0 || !strings.Contains(out.String(), `<table id="verdicts">`) {
		t.Errorf("-o html: exit %d, page %.200s", code, out.String())
	}
	// A file that is not a valid profile is reported, and the others are still judged.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: reliability.dev/v1alpha1\nkind: ReliabilityProfile\nmetadata: {name: x}\nspec: {service: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errs.Reset()
	if code := runReport([]string{"-f", samples, "-f", bad}, nil, &out, &errs, crd, now); code != 1 || !strings.Contains(out.String(), "checkout") ||
		!strings.Contains(errs.String(), "bad.yaml") {
		t.Errorf("with a bad file: exit %d, stdout %q, stderr %q", code, out.String(), errs.String())
	}
	if code := runReport([]string{"-o", "pdf"}, nil, &out, &errs, crd, now); code != 2 {
		t.Errorf("-o pdf: exit %d, want 2", code)
	}
}
