package operator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/compliance"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// How the operator waits for an API server it cannot reach at start-up.
const (
	discoveryFirstRetry = time.Second
	discoveryMaxRetry   = 30 * time.Second
	// discoveryTimeout bounds one discovery request, so that an API server that accepts connections and never
	// answers (a black-holed network) costs a retry, not a hang.
	discoveryTimeout = 10 * time.Second
)

// waitForDiscovery finds the child kinds and Gateway API route kinds the cluster serves, retrying with a
// capped backoff for as long as the API server cannot be reached: a start-up during an API server outage (an
// upgrade, a network blip) waits instead of exiting, which the kubelet would answer with a growing crash-loop
// back-off.
//
// Why here, before the manager exists, and not in a runnable of a started manager: the manager's cache must
// know at construction which kinds it holds and with what label selector, and building it looks every one of
// them up through the REST mapper, that is through discovery. So New waits, and while it waits it serves the
// health probes on the probe address itself: /healthz answers ok (the process is alive and retrying, no
// restart helps) and /readyz answers not ready. Once discovery has succeeded that listener is closed and the
// manager binds the same address; from then on the manager's /readyz is not ready until its caches have
// synced (see cachesSynced). A first attempt that succeeds starts no server of its own.
//
// The mapper it returns is handed to the manager: it already holds the groups New looks up, so building the
// manager sends no discovery request of its own.
func waitForDiscovery(cfg *rest.Config, probeAddress string) (servedKinds, meta.RESTMapper, error) {
	discoveryCfg := rest.CopyConfig(cfg)
	if discoveryCfg.Timeout == 0 {
		discoveryCfg.Timeout = discoveryTimeout
	}
	httpClient, err := rest.HTTPClientFor(discoveryCfg)
	if err != nil {
		return servedKinds{}, nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(discoveryCfg, httpClient)
	if err != nil {
		return servedKinds{}, nil, fmt.Errorf("discovering the cluster's APIs: %w", err)
	}
	served, err := servedTypes(mapper)
	if err == nil {
		return served, mapper, nil
	}
	stopProbes, perr := serveWaitingProbes(probeAddress)
	if perr != nil {
		return servedKinds{}, nil, perr
	}
	defer stopProbes()
	delay := discoveryFirstRetry
	for attempt := 2; ; attempt++ {
		ctrl.Log.Info("Discovering the cluster's APIs failed; retrying", "error", err.Error(), "retryIn", delay.String())
		time.Sleep(delay)
		delay = min(2*delay, discoveryMaxRetry)
		if served, err = servedTypes(mapper); err == nil {
			ctrl.Log.Info("Discovered the cluster's APIs", "attempts", attempt)
			return served, mapper, nil
		}
	}
}

// servedKinds are the kinds of optional APIs that the cluster serves, found once at start-up.
type servedKinds struct {
	// Children are the child kinds the operator writes and watches.
	Children []client.Object
	// GatewayRoutes are the Gateway API route kinds S-2 reads.
	GatewayRoutes []client.Object
}

// servedTypes finds the child kinds and the Gateway API route kinds whose API the cluster serves. A cluster
// without prometheus-operator has no ServiceMonitor: the operator neither caches nor watches that kind (both
// would fail at start-up), and the applier reports those children as KindNotInstalled. A cluster without the
// Gateway API has no HTTPRoute: S-2 says that it read no route. Installing a CRD later takes a restart.
// It also looks up the operator's own kind and the core group, which New maps at construction: any error
// other than "not installed" means discovery did not succeed.
func servedTypes(mapper meta.RESTMapper) (servedKinds, error) {
	for _, gvk := range []schema.GroupVersionKind{v1alpha1.GroupVersion.WithKind("ReliabilityProfile"), corev1.SchemeGroupVersion.WithKind("ConfigMap")} {
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil && !meta.IsNoMatchError(err) {
			return servedKinds{}, fmt.Errorf("looking up the %s API: %w", gvk.Kind, err)
		}
	}
	children, err := servedOf(mapper, render.ChildTypes(), "Not watching child kind: its API is not installed")
	if err != nil {
		return servedKinds{}, err
	}
	routes, err := servedOf(mapper, compliance.RouteTypes(), "Not reading route kind for S-2: its API is not installed")
	if err != nil {
		return servedKinds{}, err
	}
	return servedKinds{Children: children, GatewayRoutes: routes}, nil
}

// servedOf keeps the kinds of candidates whose API the cluster serves, logging notServed for each other.
func servedOf(mapper meta.RESTMapper, candidates []client.Object, notServed string) ([]client.Object, error) {
	var served []client.Object
	for _, obj := range candidates {
		gvk := obj.GetObjectKind().GroupVersionKind()
		_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case err == nil:
			served = append(served, obj)
		case meta.IsNoMatchError(err):
			ctrl.Log.Info(notServed, "kind", gvk.Kind, "apiVersion", gvk.GroupVersion().String())
		default:
			return nil, fmt.Errorf("looking up the %s API: %w", gvk.Kind, err)
		}
	}
	return served, nil
}

// serveWaitingProbes answers the kubelet's probes on addr while New waits for the API server: alive, not
// ready. "" and "0" turn the probes off, as they do for the manager. stop closes the listener, so the
// manager can bind the address.
func serveWaitingProbes(addr string) (stop func(), err error) {
	if addr == "" || addr == "0" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving the health probes at %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: waiting for the API server (discovery has not succeeded yet)", http.StatusInternalServerError)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}

// cachesSynced tells the readiness probe that the manager's caches have synced. The manager starts its
// non-leader runnables only once every cache it started has synced, so being started is the signal; it is
// never reset, so informers that the leader adds later do not take a replica out of its Service.
type cachesSynced struct{ synced atomic.Bool }

func (c *cachesSynced) Start(context.Context) error {
	c.synced.Store(true)
	return nil
}

// NeedLeaderElection is false: every replica's readiness depends on its own caches.
func (c *cachesSynced) NeedLeaderElection() bool { return false }

func (c *cachesSynced) check(*http.Request) error {
	if !c.synced.Load() {
		return errors.New("the caches have not synced")
	}
	return nil
}
