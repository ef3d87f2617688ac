package shard

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Of is the shard of a namespace among n: FNV-1a (32 bits) of its name, modulo n. Every profile of a
// namespace is in one shard, so what is judged per namespace (one profile per service) is judged by one
// replica. The hash depends on the name alone, so every replica, of any version, agrees.
func Of(namespace string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(namespace))
	return int(h.Sum32() % uint32(n))
}

// LeaseName is the name of shard i's Lease among n. n is in the name: replicas started with another
// --shards contend for other Leases instead of splitting the namespaces two ways at once.
func LeaseName(i, n int) string {
	return fmt.Sprintf("reliability-operator-shard-%d-of-%d", i, n)
}

// Preferred is the shard a replica campaigns for at once: its StatefulSet ordinal (the number after the
// last "-" of its pod name) modulo n, else a hash of its name.
func Preferred(podName string, n int) int {
	if i := strings.LastIndexByte(podName, '-'); i >= 0 {
		if ordinal, err := strconv.Atoi(podName[i+1:]); err == nil && ordinal >= 0 {
			return ordinal % n
		}
	}
	return Of(podName, n)
}

// Options configure a Set. The durations are those of leader election (client-go's leaderelection): a
// holder that cannot renew for RenewDeadline stops reconciling the shard, and another replica takes it
// once LeaseDuration has passed since the last renewal.
type Options struct {
	// Shards is how many shards the namespaces are split into; 1 or less turns sharding off.
	Shards int
	// Preferred is the shard campaigned for at once; the others are campaigned for after TakeoverDelay.
	Preferred int
	// Identity is the holder identity written in the Leases; unique per replica.
	Identity  string
	Namespace string
	// LeaseDuration, RenewDeadline and RetryPeriod default to controller-runtime's leader election ones
	// (15s, 10s, 2s); TakeoverDelay defaults to LeaseDuration.
	LeaseDuration, RenewDeadline, RetryPeriod, TakeoverDelay time.Duration
	// KeepLeasesOnStop leaves the Leases held when the Set stops, as a crash would; tests set it. Otherwise
	// a replica shut down releases them, and the others take its shards over at their next retry.
	KeepLeasesOnStop bool
}

// Set holds the Leases of the shards this replica has won. It is a manager runnable that runs on every
// replica (no leader election of its own).
type Set struct {
	o      Options
	leases coordinationv1client.LeasesGetter
	held   []atomic.Bool
	// OnAcquired, when set, is called (in its own goroutine) each time a shard is won; ctx ends when it is
	// lost.
	OnAcquired func(ctx context.Context, shard int)
}

// New makes a Set; it campaigns once started.
func New(leases coordinationv1client.LeasesGetter, o Options) (*Set, error) {
	if o.Shards < 2 {
		return nil, fmt.Errorf("sharding needs at least 2 shards, not %d", o.Shards)
	}
	if o.Preferred < 0 || o.Preferred >= o.Shards {
		return nil, fmt.Errorf("the preferred shard %d is not one of 0..%d", o.Preferred, o.Shards-1)
	}
	if o.Identity == "" || o.Namespace == "" {
		return nil, fmt.Errorf("sharding needs an identity and the namespace of its Leases")
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = 10 * time.Second
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = 2 * time.Second
	}
	if o.TakeoverDelay == 0 {
		o.TakeoverDelay = o.LeaseDuration
	}
	registerMetrics()
	for i := range o.Shards {
		shardHeld.WithLabelValues(strconv.Itoa(i)).Set(0)
	}
	return &Set{o: o, leases: leases, held: make([]atomic.Bool, o.Shards)}, nil
}

// Shards is how many shards there are.
func (s *Set) Shards() int { return s.o.Shards }

// Held tells whether this replica holds shard i now.
func (s *Set) Held(i int) bool { return i >= 0 && i < len(s.held) && s.held[i].Load() }

// Holds tells whether this replica reconciles the namespace's profiles now: one atomic read.
func (s *Set) Holds(namespace string) bool { return s.held[Of(namespace, s.o.Shards)].Load() }

// NeedLeaderElection is false: the Set is the election.
func (s *Set) NeedLeaderElection() bool { return false }

// Start campaigns for every shard until ctx ends: for the preferred one at once, for the others after
// TakeoverDelay, so that replicas starting together each take their own and take another's only when its
// holder is gone. A shard lost is campaigned for again.
func (s *Set) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range s.o.Shards {
		elector, err := s.elector(i)
		if err != nil {
			return err
		}
		wg.Go(func() {
			if i != s.o.Preferred {
				select {
				case <-time.After(s.o.TakeoverDelay):
				case <-ctx.Done():
					return
				}
			}
			for ctx.Err() == nil {
				elector.Run(ctx)
			}
		})
	}
	wg.Wait()
	return nil
}

// elector campaigns for shard i. OnStartedLeading runs in its own goroutine and may come after
// OnStoppedLeading of the same term, whose context is then already cancelled: the mutex and that context
// keep held from staying true for a term that is over.
func (s *Set) elector(i int) (*leaderelection.LeaderElector, error) {
	name := LeaseName(i, s.o.Shards)
	logger := log.Log.WithName("shard").WithValues("lease", name)
	var mu sync.Mutex
	return leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: s.o.Namespace, Name: name},
			Client:     s.leases,
			LockConfig: resourcelock.ResourceLockConfig{Identity: s.o.Identity},
		},
		LeaseDuration:   s.o.LeaseDuration,
		RenewDeadline:   s.o.RenewDeadline,
		RetryPeriod:     s.o.RetryPeriod,
		ReleaseOnCancel: !s.o.KeepLeasesOnStop,
		Name:            name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				mu.Lock()
				if ctx.Err() != nil {
					mu.Unlock()
					return
				}
				s.held[i].Store(true)
				mu.Unlock()
				shardHeld.WithLabelValues(strconv.Itoa(i)).Set(1)
				logger.Info("Acquired shard", "shard", i)
				if s.OnAcquired != nil {
					s.OnAcquired(ctx, i)
				}
			},
			OnStoppedLeading: func() {
				mu.Lock()
				wasHeld := s.held[i].Swap(false)
				mu.Unlock()
				shardHeld.WithLabelValues(strconv.Itoa(i)).Set(0)
				if wasHeld {
					logger.Info("Lost shard", "shard", i)
				}
			},
		},
	})
}

var (
	shardHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reliability_operator_shard_held",
		Help: "1 for each shard whose Lease this replica holds (--shards), 0 for the others.",
	}, []string{"shard"})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() { ctrlmetrics.Registry.MustRegister(shardHeld) })
}
