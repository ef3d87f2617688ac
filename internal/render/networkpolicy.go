package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// NetworkPolicy denies all ingress to the service's pods except the declared rules and the metrics port from
// the monitoring namespaces (S-2, S-4). It returns nil when the profile has no spec.network: a default-deny
// policy nobody asked for would cut a running service off.
func NetworkPolicy(rp *v1alpha1.ReliabilityProfile) *networkingv1.NetworkPolicy {
	n := rp.Spec.Network
	if n == nil {
		return nil
	}
	monitoring := n.MonitoringNamespaceSelector.Meta()
	if monitoring == nil {
		monitoring = &metav1.LabelSelector{MatchLabels: map[string]string{
			corev1.LabelMetadataName: v1alpha1.DefaultMonitoringNamespace,
		}}
	}
	rules := []networkingv1.NetworkPolicyIngressRule{{
		From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: monitoring}},
		Ports: []networkingv1.NetworkPolicyPort{policyPort(metricsPort(rp), nil, corev1.ProtocolTCP)},
	}}
	for _, in := range n.Ingress {
		rule := networkingv1.NetworkPolicyIngressRule{}
		for _, from := range in.From {
			rule.From = append(rule.From, policyPeer(from))
		}
		for _, p := range in.Ports {
			protocol := corev1.Protocol(p.Protocol)
			if protocol == "" {
				protocol = corev1.ProtocolTCP
			}
			rule.Ports = append(rule.Ports, policyPort(p.Port, p.EndPort, protocol))
		}
		rules = append(rules, rule)
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion.String(), "NetworkPolicy"),
		ObjectMeta: childMeta(rp, nil),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *rp.Spec.Selector.Meta(),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}

func policyPeer(from v1alpha1.IngressPeer) networkingv1.NetworkPolicyPeer {
	if from.CIDR != "" {
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{
			CIDR:   from.CIDR,
			Except: append([]string(nil), from.Except...),
		}}
	}
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: from.NamespaceSelector.Meta(),
		PodSelector:       from.PodSelector.Meta(),
	}
}

// policyPort spells the protocol out although the API server defaults it, so that the live object equals
// the desired one field for field and drift detection sees no false difference.
func policyPort(port int32, endPort *int32, protocol corev1.Protocol) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{
		Protocol: ptr.To(protocol),
		Port:     ptr.To(intstr.FromInt32(port)),
		EndPort:  endPort,
	}
}
