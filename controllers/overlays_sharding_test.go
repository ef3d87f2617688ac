package controllers_test

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// config/sharding is config/default with three replicas splitting the namespaces into three shards, and
// without spot placement, which the operator refuses with --shards above 1.
func TestTheShardingOverlayRunsThreeReplicasOfThreeShards(t *testing.T) {
	objs := kustomizeBuild(t, "sharding")
	dep := &appsv1.Deployment{}
	findKind(t, objs, "Deployment", "controller-manager", dep)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", dep.Spec.Replicas)
	}
	args := dep.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--shards=3") || slices.Contains(args, "--spot-placement") {
		t.Errorf("the operator's arguments are %v, want --shards=3 and no --spot-placement", args)
	}
}
