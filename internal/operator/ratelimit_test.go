package operator

import (
	"testing"

	"k8s.io/client-go/rest"
)

func TestWithRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         Options
		wantQPS   float32
		wantBurst int
	}{
		{"options without a rate limit keep the config's", Options{}, 20, 30},
		{"both set replace both", Options{KubeAPIQPS: 50, KubeAPIBurst: 100}, 50, 100},
		{"only the rate replaces only the rate", Options{KubeAPIQPS: 7.5}, 7.5, 30},
		{"only the burst replaces only the burst", Options{KubeAPIBurst: 9}, 20, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			given := &rest.Config{Host: "https://api.example", QPS: 20, Burst: 30}
			got := withRateLimit(given, tc.o)
			if got.QPS != tc.wantQPS || got.Burst != tc.wantBurst {
				t.Errorf("QPS %v, burst %d; want %v, %d", got.QPS, got.Burst, tc.wantQPS, tc.wantBurst)
			}
			// One bucket for every REST client made from the config (controller-runtime makes one per kind).
			if got.RateLimiter == nil || got.RateLimiter.QPS() != tc.wantQPS {
				t.Errorf("rate limiter %v, want one shared bucket of %v per second", got.RateLimiter, tc.wantQPS)
			}
			if rest.CopyConfig(got).RateLimiter != got.RateLimiter {
				t.Error("a copy of the config has a bucket of its own")
			}
			if got.Host != given.Host {
				t.Errorf("host %q, want the config's %q", got.Host, given.Host)
			}
			if given.QPS != 20 || given.Burst != 30 || given.RateLimiter != nil {
				t.Errorf("the caller's config was changed to QPS %v, burst %d", given.QPS, given.Burst)
			}
		})
	}
}
