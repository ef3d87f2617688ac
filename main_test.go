package main

import (
	"strings"
	"testing"
)

func TestRunRefusesBadScaleFlags(t *testing.T) {
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"no worker", "--max-concurrent-reconciles=0", "--max-concurrent-reconciles"},
		{"a negative number of workers", "--max-concurrent-reconciles=-2", "--max-concurrent-reconciles"},
		{"no requests per second", "--kube-api-qps=0", "--kube-api-qps"},
		{"requests per second that are not a number", "--kube-api-qps=NaN", "--kube-api-qps"},
		{"requests per second beyond a float32", "--kube-api-qps=1e39", "--kube-api-qps"},
		{"no burst", "--kube-api-burst=0", "--kube-api-burst"},
		{"no shard", "--shards=0", "--shards"},
		{"a preferred shard beyond the shards", "--shard-preferred=1", "--shard-preferred"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run([]string{tc.arg})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Fatalf("run(%s) = %v, want an error naming %s", tc.arg, err, tc.want)
			}
		})
	}
}
