package shard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// The expected shards were computed apart from this package (FNV-1a 32 by hand, in Python): a change of the
// hash would move every namespace to another replica during a rolling update, with two versions disagreeing.
func TestTheShardOfANamespaceIsFNV1aOfItsNameModuloTheShards(t *testing.T) {
	for _, c := range []struct {
		namespace string
		of3, of7  int
	}{
		{"", 1, 2}, {"shop", 2, 3}, {"team-0", 0, 2}, {"team-1", 1, 4}, {"payments", 0, 1},
	} {
		if got := Of(c.namespace, 3); got != c.of3 {
			t.Errorf("Of(%q, 3) = %d, want %d", c.namespace, got, c.of3)
		}
		if got := Of(c.namespace, 7); got != c.of7 {
			t.Errorf("Of(%q, 7) = %d, want %d", c.namespace, got, c.of7)
		}
	}
}

func TestOneShardHoldsEveryNamespace(t *testing.T) {
	for _, n := range []int{0, 1} {
		if got := Of("shop", n); got != 0 {
			t.Errorf("Of(shop, %d) = %d, want 0", n, got)
		}
	}
}

// Not a promise of balance, but a guard against a hash that sends most namespaces to one shard.
func TestThirtyNamespacesSpreadOverThreeShards(t *testing.T) {
	count := make([]int, 3)
	for i := range 30 {
		count[Of(fmt.Sprintf("team-%d", i), 3)]++
	}
	for s, c := range count {
		if c < 5 {
			t.Errorf("shard %d has %d of 30 namespaces (%v)", s, c, count)
		}
	}
}

func TestAReplicaPrefersTheShardOfItsStatefulSetOrdinal(t *testing.T) {
	for _, c := range []struct {
		pod  string
		want int
	}{
		{"reliability-operator-0", 0}, {"reliability-operator-2", 2}, {"reliability-operator-4", 1},
		{"reliability-operator-7d9f8-xkq2p", Of("reliability-operator-7d9f8-xkq2p", 3)}, {"laptop", Of("laptop", 3)},
	} {
		if got := Preferred(c.pod, 3); got != c.want {
			t.Errorf("Preferred(%q, 3) = %d, want %d", c.pod, got, c.want)
		}
	}
}

func TestLeaseNamesSayTheShardAndHowMany(t *testing.T) {
	if got, want := LeaseName(1, 3), "reliability-operator-shard-1-of-3"; got != want {
		t.Errorf("LeaseName(1, 3) = %q, want %q", got, want)
	}
}

func TestNewRefusesAPreferredShardOutOfRange(t *testing.T) {
	for _, o := range []Options{
		{Shards: 1, Identity: "a", Namespace: "ns"},
		{Shards: 3, Preferred: 3, Identity: "a", Namespace: "ns"},
		{Shards: 3, Preferred: -1, Identity: "a", Namespace: "ns"},
		{Shards: 3, Namespace: "ns"},
	} {
		if _, err := New(fake.NewClientset().CoordinationV1(), o); err == nil {
			t.Errorf("New(%+v) = nil error, want one", o)
		}
	}
}

// Two replicas each take their preferred shard at once and not the other's while its holder renews; when
// one crashes (its Leases kept, not released), the other takes its shard once the Lease has expired.
func TestAShardOfACrashedReplicaIsTakenOverAfterItsLeaseExpires(t *testing.T) {
	leases := fake.NewClientset().CoordinationV1()
	timing := Options{Shards: 2, Namespace: "ns", LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond,
		RetryPeriod: 200 * time.Millisecond, TakeoverDelay: 500 * time.Millisecond, KeepLeasesOnStop: true}
	start := func(identity string, preferred int) (*Set, context.CancelFunc, chan struct{}) {
		o := timing
		o.Identity, o.Preferred = identity, preferred
		s, err := New(leases, o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = s.Start(ctx); close(done) }()
		return s, cancel, done
	}
	a, stopA, doneA := start("a", 0)
	defer func() { stopA(); <-doneA }()
	b, stopB, doneB := start("b", 1)
	eventually(t, 5*time.Second, func() bool { return a.Held(0) && b.Held(1) }, "each replica holds its preferred shard")
	time.Sleep(2 * timing.LeaseDuration) // well past the takeover delay: both campaign for both
	if a.Held(1) || b.Held(0) {
		t.Fatalf("a replica took a shard whose holder renews it: a holds 1: %v, b holds 0: %v", a.Held(1), b.Held(0))
	}
	stopB()
	<-doneB
	if b.Held(1) {
		t.Error("a stopped replica still says it holds its shard")
	}
	eventually(t, 10*time.Second, func() bool { return a.Held(1) }, "the other replica takes over the crashed one's shard")
	if !a.Held(0) {
		t.Error("the replica lost its own shard while taking over another")
	}
}

func eventually(t *testing.T, within time.Duration, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
