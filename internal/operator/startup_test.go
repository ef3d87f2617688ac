package operator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestStartUpWaitsForAnAPIServerItCannotReach starts the operator while its API server cannot be reached:
// first every connection is refused, then connections are accepted and never answered (a black-holed
// network). The operator must neither fail nor exit, must answer its probes meanwhile (alive, not ready),
// and once the API server answers it must become ready and reconcile a profile created during the outage.
func TestStartUpWaitsForAnAPIServerItCannotReach(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operator stops: cleanups run last-in first-out
	admin, err := client.New(cfg, client.Options{Scheme: mustScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	apiServer, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startOutageProxy(t, apiServer.Host)
	opCfg := rest.CopyConfig(cfg)
	opCfg.Host = "https://" + proxy.addr()
	probes := testenv.FreeAddress(t)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	built := make(chan ctrl.Manager, 1) // the manager, once New has returned it
	var returned error                  // what New, or else Start, returned; read once done is closed
	go func() {
		defer close(done)
		mgr, err := operator.New(opCfg, operator.Options{ProbeAddress: probes, MetricsAddress: "0", SeveralInOneProcess: true})
		if err != nil {
			returned = fmt.Errorf("New: %w", err)
			return
		}
		built <- mgr
		returned = mgr.Start(ctx)
	}()
	t.Cleanup(func() {
		proxy.forward() // New returns once the API server answers
		select {
		case mgr := <-built:
			// A manager stopped before its caches synced never returns from Start (controller-runtime v0.25.2
			// spins in its wait for the caches).
			_ = mgr.GetCache().WaitForCacheSync(ctx)
		case <-done:
		}
		cancel()
		<-done
		if returned != nil {
			t.Errorf("the operator: %v", returned)
		}
	})
	stillRunning := func() error {
		select {
		case <-done:
			t.Fatalf("the operator returned: %v", returned)
		default:
		}
		return nil
	}
	waitingProbes := func() error {
		if err := probeAnswers(probes, "/healthz", http.StatusOK); err != nil {
			return err
		}
		return probeAnswersNot(probes, "/readyz", http.StatusOK)
	}

	pollUntil(t, "three refused connections, and the probes answered alive, not ready", func() error {
		if err := errors.Join(stillRunning(), waitingProbes()); err != nil {
			return err
		}
		if n := proxy.refused.Load(); n < 3 {
			return fmt.Errorf("%d connections refused", n)
		}
		return nil
	})

	// A profile created during the outage, past the proxy: it must not be lost.
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	rp := sloProfile("checkout")
	if err := admin.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}

	proxy.blackhole()
	pollUntil(t, "a black-holed connection given up by the operator, and the probes answered alive, not ready", func() error {
		if err := errors.Join(stillRunning(), waitingProbes()); err != nil {
			return err
		}
		if n := proxy.abandoned.Load(); n < 1 {
			return fmt.Errorf("%d black-holed connections given up", n)
		}
		return nil
	})

	proxy.forward()
	pollUntil(t, "the operator ready", func() error {
		return errors.Join(stillRunning(), probeAnswers(probes, "/readyz", http.StatusOK), probeAnswers(probes, "/healthz", http.StatusOK))
	})
	pollUntil(t, "the profile created during the outage Ready", func() error {
		live := &v1alpha1.ReliabilityProfile{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
			return err
		}
		c := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ReadyCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != live.Generation {
			return fmt.Errorf("Ready = %+v", c)
		}
		return stillRunning()
	})
}

// TestReadinessWaitsForTheCachesToSync holds back the operator's list of profiles: discovery succeeds, the
// caches cannot sync, and the manager's probe server must answer alive and not ready for its caches, until the
// lists go through.
func TestReadinessWaitsForTheCachesToSync(t *testing.T) {
	env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	var held atomic.Bool
	held.Store(true)
	opCfg := rest.CopyConfig(cfg)
	opCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if held.Load() && strings.HasSuffix(req.URL.Path, "/reliabilityprofiles") {
				return nil, errors.New("held back by the test")
			}
			return rt.RoundTrip(req)
		})
	})
	probes := testenv.FreeAddress(t)
	mgr, err := operator.New(opCfg, operator.Options{ProbeAddress: probes, MetricsAddress: "0", SeveralInOneProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		// Lists go through again first: a manager stopped before its caches synced never returns from Start
		// (controller-runtime v0.25.2 spins in its wait for the caches).
		held.Store(false)
		_ = mgr.GetCache().WaitForCacheSync(context.Background())
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	pollUntil(t, "the manager's probes answering alive, caches not synced", func() error {
		return errors.Join(probeAnswers(probes, "/healthz", http.StatusOK), probeAnswersNot(probes, "/readyz/caches", http.StatusOK))
	})
	held.Store(false)
	// The informer retries its list with a growing back-off.
	pollUntil(t, "the caches synced", func() error { return probeAnswers(probes, "/readyz/caches", http.StatusOK) })
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// outageProxy stands between the operator and its API server: it refuses connections, black-holes them
// (accepts and never answers), or forwards them.
type outageProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	// refused and abandoned count connections closed at once, and black-holed connections the client gave up.
	refused, abandoned atomic.Int32
	mu                 sync.Mutex
	held               []net.Conn
}

const (
	refuseMode int32 = iota
	blackholeMode
	forwardMode
)

func startOutageProxy(t *testing.T, target string) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return p
}

func (p *outageProxy) addr() string { return p.ln.Addr().String() }

func (p *outageProxy) blackhole() { p.mode.Store(blackholeMode) }

// forward lets connections through from now on, and closes the black-holed ones.
func (p *outageProxy) forward() {
	p.mode.Store(forwardMode)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.held {
		_ = c.Close()
	}
	p.held = nil
}

func (p *outageProxy) handle(c net.Conn) {
	switch p.mode.Load() {
	case refuseMode:
		p.refused.Add(1)
		_ = c.Close()
	case blackholeMode:
		p.mu.Lock()
		p.held = append(p.held, c)
		p.mu.Unlock()
		_, _ = io.Copy(io.Discard, c) // until the client or forward closes it
		if p.mode.Load() == blackholeMode {
			p.abandoned.Add(1)
		}
		_ = c.Close()
	default:
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			return
		}
		go func() {
			_, _ = io.Copy(up, c)
			_ = up.Close()
		}()
		_, _ = io.Copy(c, up)
		_ = c.Close()
	}
}

// probeAnswers checks that a probe path answers with the status.
func probeAnswers(addr, path string, status int) error {
	got, body, err := probe(addr, path)
	if err != nil {
		return err
	}
	if got != status {
		return fmt.Errorf("%s = %d (%s), want %d", path, got, body, status)
	}
	return nil
}

// probeAnswersNot checks that a probe path answers, with another status than the one given.
func probeAnswersNot(addr, path string, status int) error {
	got, body, err := probe(addr, path)
	if err != nil {
		return err
	}
	if got == status {
		return fmt.Errorf("%s = %d (%s)", path, got, body)
	}
	return nil
}

func probe(addr, path string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// pollUntil retries check until it returns nil, and fails the test with its last error after a minute: a
// black-holed request takes its full timeout before the operator retries.
func pollUntil(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after a minute: %v", what, err)
}

func mustScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
