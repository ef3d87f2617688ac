package controllers_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func verdictIs(ns, rule string, result v1alpha1.ComplianceResult, contains string) func() error {
	return func() error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, rp); err != nil {
			return err
		}
		for _, v := range rp.Status.Compliance {
			if v.Rule == rule {
				if v.Result != result || !strings.Contains(v.Message, contains) {
					return fmt.Errorf("%s is %s (%s), want %s mentioning %q", rule, v.Result, v.Message, result, contains)
				}
				return nil
			}
		}
		return fmt.Errorf("no verdict on %s in %+v", rule, rp.Status.Compliance)
	}
}

// ruleResultSeries checks that reliability_operator_rule_result has one series for the profile's rule: the
// result, at 1.
func ruleResultSeries(ns, rule, result string) func() error {
	return func() error {
		samples, err := testenv.Samples("reliability_operator_rule_result")
		if err != nil {
			return err
		}
		var seen []string
		for _, s := range samples {
			if s.Labels["namespace"] != ns || s.Labels["rule"] != rule {
				continue
			}
			seen = append(seen, s.Labels["result"])
			if s.Labels["result"] == result && s.Value == 1 && len(seen) > 1 {
				return fmt.Errorf("more than one result series for %s: %v", rule, seen)
			}
		}
		if len(seen) != 1 || seen[0] != result {
			return fmt.Errorf("series of %s: results %v, want only %s", rule, seen, result)
		}
		return nil
	}
}

// setPDBStatus writes the PodDisruptionBudget's status as Kubernetes' disruption controller would (envtest
// runs no controller manager).
func setPDBStatus(t *testing.T, ns string, expected, healthy, allowed int32) {
	t.Helper()
	eventually(t, "PDB status written", func() error {
		pdb := &policyv1.PodDisruptionBudget{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, pdb); err != nil {
			return err
		}
		pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, ExpectedPods: expected,
			CurrentHealthy: healthy, DesiredHealthy: expected - allowed, DisruptionsAllowed: allowed}
		return k8s.Status().Update(ctx, pdb)
	})
}

// TestAPDBThatBlocksDrainsFailsD6 judges D-6 on the PodDisruptionBudget's live status: unknown before the
// disruption controller reports, failing while no disruption is allowed, passing once one is, with an Event
// and the rule's series following each change.
func TestAPDBThatBlocksDrainsFailsD6(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, newProfile(ns))
	waitReady(t, ns)
	eventually(t, "D-6 unknown", verdictIs(ns, v1alpha1.RuleD6, v1alpha1.ComplianceUnknown, "no status"))
	eventually(t, "S-4 passes", verdictIs(ns, v1alpha1.RuleS4, v1alpha1.CompliancePass, "NetworkPolicy checkout"))
	eventually(t, "O-8 fails", verdictIs(ns, v1alpha1.RuleO8, v1alpha1.ComplianceFail, "No version metric"))

	setPDBStatus(t, ns, 1, 1, 0)
	eventually(t, "D-6 fails", verdictIs(ns, v1alpha1.RuleD6, v1alpha1.ComplianceFail, "allows no disruption with 1 of 1 pods healthy"))
	eventually(t, "D-6 event", hasEvent(ns, v1alpha1.RuleResultChangedReason, "D-6: Unknown → Fail"))
	eventually(t, "D-6 series", ruleResultSeries(ns, v1alpha1.RuleD6, "Fail"))
	eventually(t, "Compliant=False", conditionIs(ns, "checkout", v1alpha1.CompliantCondition, "False", v1alpha1.RulesFailedReason))

	setPDBStatus(t, ns, 3, 3, 1)
	eventually(t, "D-6 passes", verdictIs(ns, v1alpha1.RuleD6, v1alpha1.CompliancePass, "3 of 3 pods healthy"))
	eventually(t, "D-6 series", ruleResultSeries(ns, v1alpha1.RuleD6, "Pass"))
	rp := getProfile(t, ns, "checkout")
	if rp.Status.ComplianceSummary == "" || !strings.Contains(conditionMessage(rp, v1alpha1.CompliantCondition), rp.Status.ComplianceSummary) {
		t.Errorf("summary %q not in the Compliant condition %q", rp.Status.ComplianceSummary, conditionMessage(rp, v1alpha1.CompliantCondition))
	}
}

func conditionMessage(rp *v1alpha1.ReliabilityProfile, condType string) string {
	for _, c := range rp.Status.Conditions {
		if c.Type == condType {
			return c.Message
		}
	}
	return ""
}

// TestAnExpiredExceptionNoLongerWaivesItsRule: a critical service without a runbook is Waived on R-4 while its
// exception holds; once the exception's date has passed, R-4 fails and an ExceptionExpired Event says so.
func TestAnExpiredExceptionNoLongerWaivesItsRule(t *testing.T) {
	ns := newNamespace(t)
	rp := newProfile(ns)
	rp.Spec.Tier = v1alpha1.TierCritical
	until := time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly)
	rp.Spec.Exceptions = []v1alpha1.Exception{{Rule: v1alpha1.RuleR4, Reason: "The runbook is being written", Expires: until, ApprovedBy: "sre-lead"}}
	createProfile(t, rp)
	eventually(t, "R-4 waived", verdictIs(ns, v1alpha1.RuleR4, v1alpha1.ComplianceWaived, "Waived until "+until+", approved by sre-lead"))
	eventually(t, "R-4 series", ruleResultSeries(ns, v1alpha1.RuleR4, "Waived"))

	// The date passes: here, the exception is rewritten with yesterday's date, which admission allows with a
	// warning.
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	editObject(t, client.ObjectKey{Namespace: ns, Name: "checkout"}, rp, func() { rp.Spec.Exceptions[0].Expires = yesterday })
	eventually(t, "R-4 fails", verdictIs(ns, v1alpha1.RuleR4, v1alpha1.ComplianceFail, "expired on "+yesterday))
	eventually(t, "expiry event", hasEvent(ns, v1alpha1.ExceptionExpiredReason, "R-4: the exception no longer holds"))
	eventually(t, "R-4 series", ruleResultSeries(ns, v1alpha1.RuleR4, "Fail"))
}

// TestALoadBalancerAndALiteralPasswordFailS2AndS3: a LoadBalancer Service in front of a service that is not
// declared public fails S-2 until the profile declares it; a Deployment with DB_PASSWORD written literally
// fails S-3, naming the workload and the variable, never the value, until it comes from a Secret.
func TestALoadBalancerAndALiteralPasswordFailS2AndS3(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, newProfile(ns))
	waitReady(t, ns)
	eventually(t, "S-2 passes", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.CompliancePass, "No LoadBalancer"))
	eventually(t, "S-3 unknown", verdictIs(ns, v1alpha1.RuleS3, v1alpha1.ComplianceUnknown, "No Deployment"))

	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "checkout-public", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "checkout"},
			Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443)}}}}
	if err := k8s.Create(ctx, lb); err != nil {
		t.Fatal(err)
	}
	eventually(t, "S-2 fails", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.ComplianceFail, "Service/checkout-public (LoadBalancer)"))
	eventually(t, "S-2 event", hasEvent(ns, v1alpha1.RuleResultChangedReason, "S-2: Pass → Fail"))
	rp := getProfile(t, ns, "checkout")
	editObject(t, client.ObjectKey{Namespace: ns, Name: "checkout"}, rp, func() {
		rp.Spec.Public = &v1alpha1.PublicExposure{Reason: "the storefront customers reach"}
	})
	eventually(t, "S-2 passes as declared", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.CompliancePass, "Public as declared (the storefront customers reach)"))

	const password = "hunter2-do-not-print"
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1",
					Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: password}, {Name: "LOG_LEVEL", Value: "info"}}}}},
			}}}
	if err := k8s.Create(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	eventually(t, "S-3 fails", verdictIs(ns, v1alpha1.RuleS3, v1alpha1.ComplianceFail, "Deployment/checkout container app: DB_PASSWORD"))
	for _, v := range getProfile(t, ns, "checkout").Status.Compliance {
		if strings.Contains(v.Message, password) {
			t.Errorf("%s's message shows the secret: %s", v.Rule, v.Message)
		}
	}
	editObject(t, client.ObjectKey{Namespace: ns, Name: "checkout"}, deploy, func() {
		deploy.Spec.Template.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}
	})
	eventually(t, "S-3 passes", verdictIs(ns, v1alpha1.RuleS3, v1alpha1.CompliancePass, "Deployment/checkout"))
}

// TestAnHTTPRouteAttachedToAGatewayFailsS2: an HTTPRoute attached to a Gateway, with the profile's Service as
// its backend, fails S-2 naming the route, the Gateway and the Service, with an Event and the rule's series,
// until the profile declares the service public. A route of another namespace that names the profile's
// namespace in its backendRef is found too, through the route watch alone.
func TestAnHTTPRouteAttachedToAGatewayFailsS2(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, newProfile(ns))
	waitReady(t, ns)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "checkout"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if err := k8s.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	// The Gateway API's CRDs are installed here, so S-2 says it read every route kind.
	eventually(t, "S-2 passes", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.CompliancePass,
		"no HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute attached to a Gateway reaches the service's pods."))

	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "storefront", Namespace: ns},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Namespace: ptr.To(gatewayv1.Namespace("infra")), Name: "public"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "checkout", Port: ptr.To(gatewayv1.PortNumber(80))}}}}}},
		}}
	if err := k8s.Create(ctx, route); err != nil {
		t.Fatal(err)
	}
	eventually(t, "S-2 fails", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.ComplianceFail,
		"Exposed outside the cluster by HTTPRoute/storefront (via Gateway infra/public, to Service/checkout)"))
	eventually(t, "S-2 event", hasEvent(ns, v1alpha1.RuleResultChangedReason, "S-2: Pass → Fail: Exposed outside the cluster by HTTPRoute/storefront"))
	eventually(t, "S-2 series", ruleResultSeries(ns, v1alpha1.RuleS2, "Fail"))

	rp := getProfile(t, ns, "checkout")
	editObject(t, client.ObjectKey{Namespace: ns, Name: "checkout"}, rp, func() {
		rp.Spec.Public = &v1alpha1.PublicExposure{Reason: "the storefront customers reach"}
	})
	eventually(t, "S-2 passes as declared", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.CompliancePass,
		"Public as declared (the storefront customers reach): HTTPRoute/storefront (via Gateway infra/public, to Service/checkout)."))
	eventually(t, "S-2 series", ruleResultSeries(ns, v1alpha1.RuleS2, "Pass"))

	edge := newNamespace(t)
	crossing := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "storefront", Namespace: edge},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "checkout", Namespace: ptr.To(gatewayv1.Namespace(ns)), Port: ptr.To(gatewayv1.PortNumber(80))}}}}}},
		}}
	if err := k8s.Create(ctx, crossing); err != nil {
		t.Fatal(err)
	}
	eventually(t, "S-2 names the other namespace's route", verdictIs(ns, v1alpha1.RuleS2, v1alpha1.CompliancePass,
		"HTTPRoute/storefront of namespace "+edge+" (via Gateway "+edge+"/public, to Service/checkout if a ReferenceGrant allows it)"))
	// Pointed back at its own namespace, it no longer counts here: the watch maps the old route too.
	editObject(t, client.ObjectKeyFromObject(crossing), crossing, func() {
		crossing.Spec.Rules[0].BackendRefs[0].Namespace = nil
	})
	eventually(t, "S-2 forgets the other namespace's route", func() error {
		if err := verdictIs(ns, v1alpha1.RuleS2, v1alpha1.CompliancePass, "HTTPRoute/storefront (via Gateway infra/public")(); err != nil {
			return err
		}
		return notInVerdict(ns, v1alpha1.RuleS2, "of namespace "+edge)
	})
}

func notInVerdict(ns, rule, text string) error {
	rp := &v1alpha1.ReliabilityProfile{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, rp); err != nil {
		return err
	}
	for _, v := range rp.Status.Compliance {
		if v.Rule == rule && strings.Contains(v.Message, text) {
			return fmt.Errorf("%s still mentions %q: %s", rule, text, v.Message)
		}
	}
	return nil
}

// TestTheReportReadsTheClustersVerdicts runs `reliability-operator report` against the control plane, as a
// platform engineer would with their kubeconfig: the namespace's profile is in the table with the verdicts
// the operator wrote, and the failing rule's message follows it.
func TestTheReportReadsTheClustersVerdicts(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, newProfile(ns))
	eventually(t, "O-8 fails", verdictIs(ns, v1alpha1.RuleO8, v1alpha1.ComplianceFail, "No version metric"))
	summary := getProfile(t, ns, "checkout").Status.ComplianceSummary

	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["envtest"] = &clientcmdapi.Cluster{Server: adminConfig.Host, CertificateAuthorityData: adminConfig.CAData}
	kubeconfig.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: adminConfig.CertData, ClientKeyData: adminConfig.KeyData, Token: adminConfig.BearerToken}
	kubeconfig.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kubeconfig.CurrentContext = "envtest"
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, file); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := cli.Run([]string{"report", "--kubeconfig", file, "-n", ns}, nil, &out, &errs, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{ns + "  checkout  non-critical  " + summary, ns + "/checkout O-8: No version metric declared"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
