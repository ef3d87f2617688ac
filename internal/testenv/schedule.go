package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BindAsScheduler binds the pod to the first of the nodes its required node affinity allows, judged by the
// scheduler's own matching code, as the scheduler would (envtest has none). It returns the node's name.
func BindAsScheduler(ctx context.Context, c client.Client, pod *corev1.Pod, candidates ...string) (string, error) {
	for _, name := range candidates {
		node := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			return "", err
		}
		ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
			Target: corev1.ObjectReference{Kind: "Node", Name: name}}
		if err := c.SubResource("binding").Create(ctx, pod, b); err != nil {
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("pod %s fits none of the nodes %v", pod.Name, candidates)
}

// CreatePodsAtOnce creates the pods concurrently, as the ReplicaSet controller creates a batch, and returns
// the errors joined.
func CreatePodsAtOnce(ctx context.Context, c client.Client, pods []*corev1.Pod) error {
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() { errs[i] = c.Create(ctx, p) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
