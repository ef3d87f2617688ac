package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func TestTheShippedFleetDashboardIsCurrent(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("config/grafana/%s is stale: run go run ./hack/fleetdashboard", name)
		}
	}
}

// Both forms are accepted by a real API server with grafana-operator's CRD (a server-side dry run).
func TestTheFleetDashboardIsAcceptedByTheAPIServer(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace("default")
		if err := c.Patch(context.Background(), u, client.Apply, client.FieldOwner("test"), client.DryRunAll); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
