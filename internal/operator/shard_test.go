package operator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/shard"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// shardUsers are the users the three sharded operators authenticate as: the API server's audit log tells
// their writes apart.
var shardUsers = []string{"operator-a", "operator-b", "operator-c"}

const shardAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [operator-a, operator-b, operator-c]
  verbs: [create, update, patch, delete]
- level: None
`

// TestThreeShardsConvergeEveryProfileOnceAndTakeOverACrashedOne (issue 13, item 3): three operators with
// --shards 3 share 3,000 profiles in 36 namespaces; one is killed mid-run (its Leases kept, as a crash
// leaves them). Every profile converges, with its children, each created once and owned by it; the
// crashed operator's shard is taken over by another; the writes in each namespace come from the holder of
// its shard before the kill and from one operator after it; no child is left without its profile.
// SHARD_TEST_PROFILES sets another number of profiles. It takes minutes: skipped with -short.
func TestThreeShardsConvergeEveryProfileOnceAndTakeOverACrashedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("minutes long")
	}
	profiles, namespaces := 3000, 36
	if n, err := strconv.Atoi(os.Getenv("SHARD_TEST_PROFILES")); err == nil && n > 0 {
		profiles = n
	}
	env, admin, auditLog := startAuditedControlPlane(t)
	ctx := context.Background()
	var nsNames []string
	for i := range namespaces {
		nsNames = append(nsNames, fmt.Sprintf("team-%d", i))
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsNames[i]}}); err != nil {
			t.Fatal(err)
		}
	}

	// Operator i prefers shard i.
	stops := make([]func(), len(shardUsers))
	for i := range shardUsers {
		stops[i] = startShardedOperator(t, env, i, 3, operator.Options{})
	}
	holders := func() ([]string, error) {
		out := make([]string, 3)
		for i := range out {
			h, _, err := leaseHolder(ctx, admin, i, 3)
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	}
	waitForWithin(t, time.Minute, "each operator holds its preferred shard", func() error {
		h, err := holders()
		if err != nil {
			return err
		}
		for i, name := range shardUsers {
			if h[i] != name {
				return fmt.Errorf("holders %v", h)
			}
		}
		return nil
	})

	// The profiles are created by 16 workers; at half of them, operator-b (shard 1) crashes.
	const victim = 1
	start := time.Now()
	var created atomic.Int64
	var killStart, killEnd time.Time
	killed := make(chan struct{})
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				rp := sloProfile(fmt.Sprintf("svc-%d", i))
				rp.Namespace = nsNames[i%namespaces]
				if err := admin.Create(ctx, rp); err != nil {
					errs <- err
					return
				}
				if created.Add(1) == int64(profiles/2) {
					killStart = time.Now()
					stops[victim]()
					killEnd = time.Now()
					close(killed)
				}
			}
		})
	}
	for i := range profiles {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating the profiles: %v", err)
	}
	<-killed
	t.Logf("created %d profiles in %d namespaces in %v; operator %s killed at %v", profiles, namespaces,
		time.Since(start).Round(time.Second), shardUsers[victim], killStart.Sub(start).Round(time.Second))

	waitForWithin(t, 10*time.Minute, "every profile converges", func() error {
		list := &v1alpha1.ReliabilityProfileList{}
		if err := admin.List(ctx, list); err != nil {
			return err
		}
		pending := 0
		var example string
		for _, rp := range list.Items {
			if rp.Status.ObservedGeneration != rp.Generation || !meta.IsStatusConditionTrue(rp.Status.Conditions, v1alpha1.ReadyCondition) {
				pending++
				example = rp.Namespace + "/" + rp.Name
			}
		}
		if len(list.Items) != profiles || pending > 0 {
			return fmt.Errorf("%d of %d profiles not converged, such as %s", pending, len(list.Items), example)
		}
		return nil
	})
	converged := time.Since(start)
	t.Logf("every profile converged %v after the first was created", converged.Round(time.Second))

	h, err := holders()
	if err != nil {
		t.Fatal(err)
	}
	taker := h[victim]
	if taker == shardUsers[victim] || taker == "" {
		t.Fatalf("shard %d is still held by %q after its operator crashed (holders %v)", victim, taker, h)
	}

	// Every child is its profile's: owned by a profile that exists and lists it in its status.
	list := &v1alpha1.ReliabilityProfileList{}
	if err := admin.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	byUID := map[types.UID]*v1alpha1.ReliabilityProfile{}
	for i := range list.Items {
		byUID[list.Items[i].UID] = &list.Items[i]
	}
	children := map[string]bool{} // resource/namespace/name of every child, as the audit log names it
	childrenOf := map[types.UID]int{}
	for _, kind := range render.ChildTypes() {
		gvk := kind.GetObjectKind().GroupVersionKind()
		objs := &unstructured.UnstructuredList{}
		objs.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := admin.List(ctx, objs, client.MatchingLabels{render.ManagedByLabel: render.ManagedByValue}); err != nil {
			t.Fatalf("listing %s: %v", gvk.Kind, err)
		}
		mapping, err := admin.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs.Items {
			owner := metav1.GetControllerOf(&o)
			if owner == nil || byUID[owner.UID] == nil {
				t.Errorf("orphan: %s %s/%s has no profile (owner %v)", gvk.Kind, o.GetNamespace(), o.GetName(), owner)
				continue
			}
			childrenOf[owner.UID]++
			children[mapping.Resource.Resource+"/"+o.GetNamespace()+"/"+o.GetName()] = true
		}
	}
	for _, rp := range list.Items {
		if childrenOf[rp.UID] == 0 || childrenOf[rp.UID] != len(rp.Status.Resources) {
			t.Errorf("profile %s/%s owns %d children; its status lists %d", rp.Namespace, rp.Name, childrenOf[rp.UID], len(rp.Status.Resources))
		}
	}

	// The writes in each namespace: by the holder of its shard, and for the crashed operator's shard, by it
	// until the taker acquired the Lease and by the taker after: never by two operators holding it at once.
	// Each child is created once; a create in flight at the crash may land after it, answered to no one,
	// and the taker then finds the child made.
	_, acquired, err := leaseHolder(ctx, admin, victim, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shard %d taken over by %s %v after the kill", victim, taker, acquired.Sub(killEnd).Round(100*time.Millisecond))
	creates := map[string]int{}
	inFlight := map[string]bool{} // children the crashed operator was writing when it was killed
	var lastOfVictim time.Time
	for _, w := range auditedWrites(t, auditLog) {
		if !strings.HasPrefix(w.namespace, "team-") || w.resource == "events" {
			continue
		}
		child := w.resource + "/" + w.namespace + "/" + w.name
		holder := shardUsers[shard.Of(w.namespace, 3)]
		if shard.Of(w.namespace, 3) == victim && !w.received.Before(acquired) {
			holder = taker
		}
		if w.user != holder {
			t.Errorf("%s wrote (%s) %s at %v, in the shard of %s (kill %v..%v, takeover %v)", w.user, w.verb, child,
				w.received, holder, killStart, killEnd, acquired)
		}
		if w.user == shardUsers[victim] {
			if w.received.After(lastOfVictim) {
				lastOfVictim = w.received
			}
			if !w.received.Before(killStart) || w.code == 0 || w.code >= 500 {
				inFlight[child] = true // at the crash: its answer, if any, reached no one
			}
		}
		if (w.verb == "create" || w.verb == "patch") && w.code == 201 { // a server-side apply may create
			creates[child]++
		}
	}
	if lastOfVictim.IsZero() {
		t.Errorf("the crashed operator wrote nothing before it was killed: not a kill mid-run")
	} else {
		t.Logf("the crashed operator's last write landed %v after its manager stopped, %v before the takeover",
			lastOfVictim.Sub(killEnd), acquired.Sub(lastOfVictim))
	}
	for child := range children {
		switch {
		case creates[child] == 0 && inFlight[child]:
			t.Logf("child %s: its create was in flight at the crash", child)
		case creates[child] != 1:
			t.Errorf("child %s was created %d times", child, creates[child])
			for _, w := range auditedWrites(t, auditLog) {
				if w.resource+"/"+w.namespace+"/"+w.name == child {
					t.Logf("  %+v", w)
				}
			}
		}
	}
	if len(children) == 0 {
		t.Fatal("no children found")
	}
	t.Logf("%d children of %d profiles checked", len(children), len(list.Items))
}

// startAuditedControlPlane starts envtest with every CRD and an audit log of the sharded operators' writes,
// and returns a client of the test's own, fast enough to create thousands of profiles.
func startAuditedControlPlane(t *testing.T) (*envtest.Environment, client.Client, string) {
	t.Helper()
	ctrl.SetLogger(logr.Discard())
	dir := t.TempDir()
	auditLog, policy := filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(shardAuditPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	env, cfg, err := testenv.StartWithAPIServerFlags(map[string]string{"audit-policy-file": policy, "audit-log-path": auditLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	adminConfig := rest.CopyConfig(cfg)
	adminConfig.QPS, adminConfig.Burst = 500, 1000
	admin, err := client.New(adminConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return env, admin, auditLog
}

// startShardedOperator runs operator i of shardUsers, as that user, preferring shard i of n, with short
// Leases that it keeps when stopped (as a crash does); stop it with the function returned.
func startShardedOperator(t *testing.T, env *envtest.Environment, i, n int, o operator.Options) func() {
	t.Helper()
	user, err := env.AddUser(envtest.User{Name: shardUsers[i], Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.KubeAPIQPS, o.KubeAPIBurst, o.LeaderElectionNamespace = 100, 200, "default"
	o.Sharding = shard.Options{Shards: n, Preferred: i, Identity: shardUsers[i], LeaseDuration: 4 * time.Second,
		RenewDeadline: 3 * time.Second, RetryPeriod: time.Second, KeepLeasesOnStop: true}
	_, _, stop := runOperator(t, user.Config(), o)
	t.Cleanup(stop)
	return stop
}

// leaseHolder is the identity holding shard i of n, and when it acquired it.
func leaseHolder(ctx context.Context, c client.Client, i, n int) (string, time.Time, error) {
	lease := &coordinationv1.Lease{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: shard.LeaseName(i, n)}, lease); err != nil {
		return "", time.Time{}, err
	}
	var holder string
	var acquired time.Time
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	if lease.Spec.AcquireTime != nil {
		acquired = lease.Spec.AcquireTime.Time
	}
	return holder, acquired, nil
}

type auditedWrite struct {
	user, verb, resource, namespace, name string
	code                                  int
	received                              time.Time
}

// auditedWrites are the writes of the sharded operators that the API server answered.
func auditedWrites(t *testing.T, path string) []auditedWrite {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []auditedWrite
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<24)
	for lines.Scan() {
		var event struct {
			Stage     string `json:"stage"`
			Verb      string `json:"verb"`
			User      struct{ Username string }
			ObjectRef struct {
				Resource, Namespace, Name, Subresource string
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
			RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
		}
		if err := json.Unmarshal(lines.Bytes(), &event); err != nil {
			t.Fatal(err)
		}
		if event.Stage != "ResponseComplete" {
			t.Logf("audit stage %s: %s", event.Stage, lines.Bytes())
			continue
		}
		resource := event.ObjectRef.Resource
		if event.ObjectRef.Subresource != "" {
			resource += "/" + event.ObjectRef.Subresource
		}
		out = append(out, auditedWrite{user: event.User.Username, verb: event.Verb, resource: resource,
			namespace: event.ObjectRef.Namespace, name: event.ObjectRef.Name, code: event.ResponseStatus.Code,
			received: event.RequestReceivedTimestamp})
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLokiRetentionUnderShardsIsWrittenByTheHolderOfShardZero: with two shards, Loki's ConfigMap, which
// aggregates every profile, is written by the holder of shard 0 alone, and every profile of both shards
// reports its retention enforced; once that holder crashes, the operator that takes shard 0 over writes
// the retention of a new profile.
func TestLokiRetentionUnderShardsIsWrittenByTheHolderOfShardZero(t *testing.T) {
	env, admin, auditLog := startAuditedControlPlane(t)
	ctx := context.Background()
	var namespaces []string
	for i := range 6 {
		namespaces = append(namespaces, fmt.Sprintf("team-%d", i))
	}
	for _, ns := range append([]string{"loki"}, namespaces...) {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	loki := types.NamespacedName{Namespace: "loki", Name: "loki-runtime"}
	stops := []func(){}
	for i := range 2 {
		stops = append(stops, startShardedOperator(t, env, i, 2, operator.Options{LokiRetentionConfigMap: loki, LokiTenant: "fake"}))
	}
	create := func(name, namespace string) {
		rp := sloProfile(name)
		rp.Namespace = namespace
		if err := admin.Create(ctx, rp); err != nil {
			t.Fatal(err)
		}
	}
	for i, ns := range namespaces {
		create(fmt.Sprintf("svc-%d", i), ns)
	}
	enforced := func(want int) func() error {
		return func() error {
			list := &v1alpha1.ReliabilityProfileList{}
			if err := admin.List(ctx, list); err != nil {
				return err
			}
			for _, rp := range list.Items {
				if rp.Status.Logs == nil || !rp.Status.Logs.Enforced {
					return fmt.Errorf("%s/%s: status.logs %+v", rp.Namespace, rp.Name, rp.Status.Logs)
				}
			}
			if len(list.Items) != want {
				return fmt.Errorf("%d profiles, want %d", len(list.Items), want)
			}
			return nil
		}
	}
	waitForWithin(t, time.Minute, "every profile's retention is enforced", enforced(len(namespaces)))
	stops[0]() // the holder of shard 0 crashes, its Leases kept
	killed := time.Now()
	create("late", namespaces[0])
	waitForWithin(t, time.Minute, "the new profile's retention is enforced", enforced(len(namespaces)+1))
	holder, acquired, err := leaseHolder(ctx, admin, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if holder != shardUsers[1] {
		t.Fatalf("shard 0 is held by %q, want %s", holder, shardUsers[1])
	}
	writers := map[string]int{}
	for _, w := range auditedWrites(t, auditLog) {
		if w.resource != "configmaps" || w.namespace != loki.Namespace || w.name != loki.Name {
			continue
		}
		writers[w.user]++
		if want := shardUsers[0]; w.received.After(acquired) {
			if w.user != shardUsers[1] {
				t.Errorf("%s wrote Loki's ConfigMap after %s took shard 0 over", w.user, shardUsers[1])
			}
		} else if w.user != want || w.received.After(killed) {
			t.Errorf("%s wrote Loki's ConfigMap at %v, while %s held shard 0 (killed at %v)", w.user, w.received, want, killed)
		}
	}
	if writers[shardUsers[0]] == 0 || writers[shardUsers[1]] == 0 {
		t.Errorf("Loki's ConfigMap writes by operator: %v; want some by each holder of shard 0 in turn", writers)
	}
}
