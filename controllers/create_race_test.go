package controllers_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
)

// TestAForeignChildCreatedInARaceWithTheProfileIsNeverTaken creates, many times over, a profile and at the
// same moment a ServiceMonitor of its child's name that someone else writes. Whoever comes first keeps the
// name: when the foreign object exists, however short a time before the operator's own write, it must stay as
// its author made it and the profile must report it as a foreign object. The window that matters, between
// the operator's read of the missing child and its write, lasts a few milliseconds; the foreign create is
// delayed so that it lands there often: the delay walks towards the moment the operator writes (longer when
// the foreign object came first, shorter when the operator did), with a few milliseconds of jitter.
func TestAForeignChildCreatedInARaceWithTheProfileIsNeverTaken(t *testing.T) {
	const tries = 150
	var foreignFirst, operatorFirst, taken atomic.Int32
	var delay atomic.Int64 // where the operator's write is thought to land, after the profile's create
	delay.Store(int64(20 * time.Millisecond))
	const step = 3 * time.Millisecond
	t.Run("tries", func(t *testing.T) {
		for i := range tries {
			t.Run(fmt.Sprintf("%03d", i), func(t *testing.T) {
				t.Parallel()
				jitter := time.Duration(rand.Int64N(int64(2*step))) - step
				switch raceForeignServiceMonitor(t, max(0, time.Duration(delay.Load())+jitter)) {
				case raceForeignFirst:
					foreignFirst.Add(1)
					delay.Add(int64(step))
				case raceOperatorFirst:
					operatorFirst.Add(1)
					delay.Add(-int64(step))
				case raceTaken:
					taken.Add(1)
				}
			})
		}
	})
	t.Logf("%d tries: the foreign object came first %d times (%d of them taken by the operator), the operator %d times",
		tries, foreignFirst.Load()+taken.Load(), taken.Load(), operatorFirst.Load())
	if taken.Load() != 0 {
		t.Errorf("the operator took %d foreign ServiceMonitors", taken.Load())
	}
	if foreignFirst.Load() == 0 {
		t.Errorf("the foreign object never came first: the test raced nothing")
	}
}

type raceOutcome int

const (
	raceForeignFirst raceOutcome = iota
	raceOperatorFirst
	raceTaken
)

// raceForeignServiceMonitor creates a profile and, after delay, a foreign ServiceMonitor of its child's name,
// then waits for the profile to report the ServiceMonitor and tells who won. A foreign object the operator
// wrote to fails the test.
func raceForeignServiceMonitor(t *testing.T, delay time.Duration) raceOutcome {
	ns := newNamespace(t)
	rp := newProfile(ns)
	foreign := &monitoringv1.ServiceMonitor{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rp.Name, Labels: map[string]string{"team": "payments"}},
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:  metav1.LabelSelector{MatchLabels: map[string]string{"app": "legacy-exporter"}},
			Endpoints: []monitoringv1.Endpoint{{Port: "legacy-metrics", Interval: "2m"}},
		},
	}
	var profileErr, foreignErr error
	var wg sync.WaitGroup
	wg.Go(func() { profileErr = k8s.Create(ctx, rp) })
	wg.Go(func() {
		time.Sleep(delay)
		foreignErr = k8s.Create(ctx, foreign, client.FieldOwner("hand-written"))
	})
	wg.Wait()
	if profileErr != nil {
		t.Fatalf("creating the profile: %v", profileErr)
	}
	// A Degraded profile is looked at again every minute; deleted, it costs the rest of the suite nothing.
	t.Cleanup(func() { _ = k8s.Delete(ctx, rp) })
	if apierrors.IsAlreadyExists(foreignErr) {
		return raceOperatorFirst // the operator created its child first; the other writer was refused
	}
	if foreignErr != nil {
		t.Fatalf("creating the foreign ServiceMonitor: %v", foreignErr)
	}

	var reported v1alpha1.ChildStatus
	var degraded *metav1.Condition
	eventually(t, "the ServiceMonitor reported", func() error {
		live := &v1alpha1.ReliabilityProfile{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
			return err
		}
		for _, c := range live.Status.Resources {
			if c.Kind == monitoringv1.ServiceMonitorsKind && live.Status.ObservedGeneration == live.Generation {
				reported, degraded = c, meta.FindStatusCondition(live.Status.Conditions, v1alpha1.DegradedCondition)
				return nil
			}
		}
		return errors.New("not reported yet")
	})
	live := &monitoringv1.ServiceMonitor{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), live); err != nil {
		t.Fatal(err)
	}
	if why := takenBecause(foreign, live, rp); why != "" {
		t.Errorf("the foreign ServiceMonitor was taken (the profile reports it %s): %s", reported.State, why)
		return raceTaken
	}
	// The ServiceMonitor is the profile's only child in conflict, so Degraded carries its reason.
	if reported.State != v1alpha1.ChildConflict || degraded == nil || degraded.Reason != v1alpha1.ForeignObjectReason {
		t.Errorf("the foreign ServiceMonitor is reported as %s (%s), Degraded %+v; want Conflict, Degraded for ForeignObject",
			reported.State, reported.Message, degraded)
	}
	return raceForeignFirst
}

// takenBecause says how the operator wrote to a foreign object, or "" if it did not.
func takenBecause(created, live *monitoringv1.ServiceMonitor, rp *v1alpha1.ReliabilityProfile) string {
	switch {
	case !equality.Semantic.DeepEqual(created.Spec, live.Spec):
		return fmt.Sprintf("its spec changed (selector %v, %d endpoints, the first on port %q, target port %v)",
			live.Spec.Selector.MatchLabels, len(live.Spec.Endpoints), live.Spec.Endpoints[0].Port, live.Spec.Endpoints[0].TargetPort)
	case len(live.OwnerReferences) != 0:
		return fmt.Sprintf("it has the owner references %+v (the profile's UID is %s)", live.OwnerReferences, rp.UID)
	}
	for _, e := range live.ManagedFields {
		if e.Manager == apply.FieldOwner {
			return fmt.Sprintf("%s has a managed-fields entry (%s)", apply.FieldOwner, e.Operation)
		}
	}
	return ""
}
