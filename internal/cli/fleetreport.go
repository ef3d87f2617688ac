package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/compliance"
	"github.com/reliability-operator/reliability-operator/internal/logs"
	"github.com/reliability-operator/reliability-operator/internal/options"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/report"
	"github.com/reliability-operator/reliability-operator/internal/validate"
)

// runReport is `reliability-operator report`: the fleet's verdicts per manifesto rule, read from the
// cluster's profiles (their status.compliance[], as the operator judged them) or, with -f, judged offline
// from profile files as the operator would once it has applied them. Exit code 0 when every input could be
// read, 1 otherwise, 2 on a usage error; failing rules are the report's content, not an error.
func runReport(args []string, stdin io.Reader, stdout, stderr io.Writer, crdYAML []byte, now time.Time) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "profile files or folders to judge offline instead of the cluster's profiles; repeatable")
	output := fs.String("o", "text", "output format: text (a table for the terminal) or html (one self-contained page)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster whose profiles to report (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	namespace := fs.String("n", "", "only the profiles of this namespace (default: every namespace)")
	skipOthers := fs.Bool("skip-other-kinds", false, "with -f: skip documents that are not of the reliability.dev group")
	var opts render.Options
	options.BindRender(fs, &opts)
	policyPath := fs.String("policy", "", "with -f: a ReliabilityPolicy file, applied as the operator applies the cluster's (in the cluster, the verdicts already include it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files = append(files, fs.Args()...)
	if *output != "text" && *output != "html" {
		fs.Usage()
		return 2
	}
	var profiles []v1alpha1.ReliabilityProfile
	source := "the cluster"
	failed := false
	if len(files) > 0 {
		source = "files, judged offline: " + strings.Join(files, ", ")
		pol, err := loadPolicy(*policyPath, crdYAML)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		var ok bool
		profiles, ok = judgeFiles(files, stdin, stderr, crdYAML, pol, opts, *skipOthers, now)
		failed = !ok
	} else {
		var err error
		if profiles, err = clusterProfiles(*kubeconfig, *namespace); err != nil {
			fmt.Fprintf(stderr, "reading the cluster's profiles: %v\n", err)
			return 1
		}
	}
	r := report.Build(profiles, compliance.JudgedRules(), source, now)
	write := r.Text
	if *output == "html" {
		write = r.HTML
	}
	if err := write(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// judgeFiles validates each profile as admission would and judges it as the operator would once its
// children are applied: what depends on the cluster (the PDB's status, the workloads, where pods run, the log
// backend) is Unknown.
func judgeFiles(files []string, stdin io.Reader, stderr io.Writer, crdYAML []byte, pol *v1alpha1.ReliabilityPolicySpec, opts render.Options, skipOthers bool, now time.Time) ([]v1alpha1.ReliabilityProfile, bool) {
	validator, err := validatorOf(crdYAML, "ReliabilityProfile")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	validator.Now = func() time.Time { return now }
	docs, loadErrs := LoadAll(files, stdin)
	ok := len(loadErrs) == 0
	for _, err := range loadErrs {
		fmt.Fprintln(stderr, err)
	}
	var out []v1alpha1.ReliabilityProfile
	for _, d := range docs {
		if skipOthers && !claimsToBeAProfile(d) {
			continue
		}
		result, _ := check(d, validator, pol, opts)
		if !result.Valid {
			ok = false
			for _, p := range result.Errors {
				fmt.Fprintf(stderr, "%s: %s %s/%s: %s %s\n", result.Source, result.Kind, result.Namespace, result.Name, p.Field, p.Message)
			}
			continue
		}
		rp, err := validate.Decode(d.Object)
		if err != nil {
			ok = false
			fmt.Fprintln(stderr, err)
			continue
		}
		if rp.Namespace == "" {
			rp.Namespace = "default"
		}
		judgeOffline(rp, pol, opts, now)
		out = append(out, *rp)
	}
	return out, ok
}

// judgeOffline sets the status the operator would have once every child is applied, and the verdicts.
func judgeOffline(stored *v1alpha1.ReliabilityProfile, pol *v1alpha1.ReliabilityPolicySpec, flags render.Options, now time.Time) {
	eff := policy.Apply(stored, pol, flags)
	rp, opts := eff.Profile, eff.Render
	defer func() { stored.Status = rp.Status }()
	objs, _ := render.Render(rp, opts) // validated: it renders
	for _, o := range objs {
		gvk := o.GetObjectKind().GroupVersionKind()
		rp.Status.Resources = append(rp.Status.Resources, v1alpha1.ChildStatus{APIVersion: gvk.GroupVersion().String(),
			Kind: gvk.Kind, Name: o.GetName(), State: v1alpha1.ChildInSync})
	}
	tier, retention := logs.Retention(rp)
	rp.Status.Logs = &v1alpha1.LogsStatus{Tier: tier, Retention: fmt.Sprintf("%dd", int(retention.Hours()/24)),
		Message: "Judged offline: whether a log backend enforces the retention is known only in the cluster."}
	verdicts := compliance.Evaluate(compliance.Snapshot{Profile: rp, MinObjective: eff.MinObjective, Now: now})
	at := metav1.NewTime(now)
	for _, v := range verdicts {
		rp.Status.Compliance = append(rp.Status.Compliance, v1alpha1.RuleVerdict{Rule: v.Rule, Result: v.Result, Message: v.Message, LastTransitionTime: at})
	}
	rp.Status.ComplianceSummary = compliance.Summary(verdicts)
}

func clusterProfiles(kubeconfig, namespace string) ([]v1alpha1.ReliabilityProfile, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	list := &v1alpha1.ReliabilityProfileList{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}
