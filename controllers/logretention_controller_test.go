package controllers_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

	eventually(t, "the ConfigMap holds exactly every profile", func() error {
		all := &v1alpha1.ReliabilityProfileList{}
		if err := k8s.List(ctx, all); err != nil {
			return err
		}
		want, err := logs.LokiOverrides(all.Items, "fake")
		if err != nil {
			return err
		}
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "loki", Name: "reliability-retention"}, cm); err != nil {
			return err
		}
		if got := cm.Data[logs.RuntimeConfigKey]; got != string(want) {
			return fmt.Errorf("ConfigMap:\n%s\nwant:\n%s", got, want)
		}
		return nil
	})
	cm := &corev1.ConfigMap{}
	_ = k8s.Get(ctx, client.ObjectKey{Namespace: "loki", Name: "reliability-retention"}, cm)
	for i := range n {
		selector := fmt.Sprintf(`{namespace="%s", service="%s"}`, ns, name(i))
		present := strings.Contains(cm.Data[logs.RuntimeConfigKey], selector)
		if present == (i%3 == 1) {
			t.Errorf("%s: in the ConfigMap %v, deleted %v", name(i), present, i%3 == 1)
		}
	}
	eventually(t, "status.logs", func() error {
		rp := getProfile(t, ns, name(0))
		if l := rp.Status.Logs; l == nil || !l.Enforced || l.Retention != "30d" || l.Backend != "loki (ConfigMap loki/reliability-retention)" {
			return fmt.Errorf("status.logs = %+v", rp.Status.Logs)
		}
		return nil
	})
}
