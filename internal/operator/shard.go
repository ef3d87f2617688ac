package operator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/controllers"
	"github.com/reliability-operator/reliability-operator/internal/shard"
)

// serviceAccountNamespace is where a pod finds its own namespace, as controller-runtime's leader election
// reads it.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// setUpShards, with Sharding.Shards > 1, makes the replica reconcile only the profiles of the shards whose
// Lease it holds (internal/shard), and reconcile all of a shard's profiles, from the cache, when it acquires
// it. It returns nil without sharding. The manager then runs without its own leader election: every
// replica runs every controller, each for its shards.
func setUpShards(cfg *rest.Config, mgr ctrl.Manager, r *controllers.ReliabilityProfileReconciler, o Options) (*shard.Set, error) {
	so := o.Sharding
	if so.Shards <= 1 {
		return nil, nil
	}
	if so.Namespace == "" {
		so.Namespace = o.LeaderElectionNamespace
	}
	if so.Namespace == "" {
		ns, err := os.ReadFile(serviceAccountNamespace)
		if err != nil {
			return nil, errors.New("--shards needs --leader-election-namespace outside a pod")
		}
		so.Namespace = strings.TrimSpace(string(ns))
	}
	host, _ := os.Hostname()
	if so.Preferred < 0 {
		so.Preferred = shard.Preferred(host, so.Shards)
	}
	if so.Identity == "" {
		so.Identity = host + "_" + string(uuid.NewUUID())
	}
	// Its own client, hence its own rate limit: renewals must not queue behind the reconciles' requests.
	leaseConfig := rest.CopyConfig(cfg)
	leaseConfig.RateLimiter = nil // not the process's shared bucket (withRateLimit)
	leaseConfig.UserAgent = rest.DefaultKubernetesUserAgent() + "/shards"
	clients, err := kubernetes.NewForConfig(leaseConfig)
	if err != nil {
		return nil, fmt.Errorf("making the client of the shard Leases: %w", err)
	}
	set, err := shard.New(clients.CoordinationV1(), so)
	if err != nil {
		return nil, err
	}
	events := make(chan event.GenericEvent)
	set.OnAcquired = func(ctx context.Context, i int) {
		list := &v1alpha1.ReliabilityProfileList{}
		if err := mgr.GetClient().List(ctx, list); err != nil {
			if ctx.Err() == nil {
				log.FromContext(ctx).Error(err, "Listing the profiles of an acquired shard failed; they are reconciled at their next event", "shard", i)
			}
			return
		}
		for _, rp := range list.Items {
			if shard.Of(rp.Namespace, so.Shards) != i {
				continue
			}
			select {
			case events <- event.GenericEvent{Object: &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: rp.Namespace, Name: rp.Name}}}:
			case <-ctx.Done():
				return
			}
		}
	}
	if err := mgr.Add(set); err != nil {
		return nil, err
	}
	r.Shards, r.ShardEvents = set, events
	return set, nil
}

// writesSingletons is whether this replica does the work that is one for the whole cluster (Loki's
// retention ConfigMap): the holder of shard 0, or every replica without sharding (the leader, as the
// manager elects one).
func writesSingletons(set *shard.Set) func() bool {
	if set == nil {
		return nil
	}
	return func() bool { return set.Held(0) }
}
