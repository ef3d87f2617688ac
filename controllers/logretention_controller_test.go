package controllers_test

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/logs"
)

// The Loki overrides ConfigMap aggregates every profile of the cluster. Profiles created, changed and
// deleted at the same time, from many clients, must all end up in it exactly: no entry lost, none left over.
func TestLogRetentionEntriesSurviveConcurrentProfileChanges(t *testing.T) {
	ns := newNamespace(t)
	const n = 12
	parallel := func(do func(i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- do(i) }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	name := func(i int) string { return fmt.Sprintf("svc-%02d", i) }
	parallel(func(i int) error {
		rp := newProfile(ns)
		rp.Name, rp.Spec.Service, rp.Labels = name(i), name(i), nil
		return k8s.Create(ctx, rp)
	})
	// Then, at once: a third become critical (30 days), a third are deleted, a third stay as they are.
	parallel(func(i int) error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name(i)}, rp); err != nil {
			return err
		}
		switch i % 3 {
		case 0:
			rp.Spec.Logs = &v1alpha1.LogsSpec{Tier: v1alpha1.TierCritical}
			return k8s.Update(ctx, rp)
		case 1:
			return k8s.Delete(ctx, rp)
		}
		return nil
	})

	// An Audit-mode profile changes nothing, Loki's retention included.
	audit := newProfile(ns)
	audit.Name, audit.Spec.Service, audit.Spec.Mode, audit.Labels = "audited", "audited", v1alpha1.ModeAudit, nil
	createProfile(t, audit)

	want := map[string]string{}
	for i := range n {
		switch i % 3 {
		case 0:
			want[fmt.Sprintf(`{namespace="%s", service="%s"}`, ns, name(i))] = "720h"
		case 2:
			want[fmt.Sprintf(`{namespace="%s", service="%s"}`, ns, name(i))] = "168h"
		}
	}
	eventually(t, "the ConfigMap holds exactly this namespace's enforceable profiles", func() error {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "loki", Name: "reliability-retention"}, cm); err != nil {
			return err
		}
		var config struct {
			Overrides map[string]struct {
				RetentionStream []struct{ Selector, Period string } `json:"retention_stream"`
			}
		}
		if err := yaml.Unmarshal([]byte(cm.Data[logs.RuntimeConfigKey]), &config); err != nil {
			return err
		}
		got := map[string]string{}
		for _, e := range config.Overrides["fake"].RetentionStream {
			if strings.Contains(e.Selector, `namespace="`+ns+`"`) {
				got[e.Selector] = e.Period
			}
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("entries of %s:\n%v\nwant:\n%v", ns, got, want)
		}
		return nil
	})
	eventually(t, "status.logs", func() error {
		rp := getProfile(t, ns, name(0))
		if l := rp.Status.Logs; l == nil || !l.Enforced || l.Retention != "30d" || l.Backend != "loki (ConfigMap loki/reliability-retention)" {
			return fmt.Errorf("status.logs = %+v", rp.Status.Logs)
		}
		if l := getProfile(t, ns, "audited").Status.Logs; l == nil || l.Enforced || !strings.Contains(l.Message, "Audit mode") {
			return fmt.Errorf("Audit profile status.logs = %+v", l)
		}
		return nil
	})
}
