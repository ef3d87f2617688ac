package cli

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/openslo"
	"github.com/reliability-operator/reliability-operator/internal/options"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// runImport is `reliability-operator import openslo`: OpenSLO v1 documents in, ReliabilityProfiles out
// (internal/openslo maps them). Every profile is validated as `validate` would before anything is printed,
// so that what it prints is what the API server accepts; on any refusal or invalid profile nothing is
// printed to standard output and the exit code is 1.
func runImport(args []string, stdin io.Reader, stdout, stderr io.Writer, crdYAML []byte) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: reliability-operator import openslo --tier critical|non-critical [--namespace NS] [--selector k=v,...] -f FILE|DIR|- ... [FILE|DIR ...]")
		return 2
	}
	if len(args) == 0 || args[0] != "openslo" {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "reliability-operator import: unknown format %q; openslo is the only one\n", args[0])
		}
		return usage()
	}
	fs := flag.NewFlagSet("import openslo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "an OpenSLO file, a folder of them (read recursively), or - for standard input; repeatable")
	namespace := fs.String("namespace", "", "the namespace of every profile; omitted, none is written (kubectl applies them to its current namespace)")
	tier := fs.String("tier", "", "the tier of every profile, critical or non-critical; required: OpenSLO has no tier, and it sets retention and the disaster-recovery rules")
	selector := fs.String("selector", "", "the pods' matchLabels as k=v[,k=v]; omitted, app=<service>")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "import openslo: -f is required")
		return usage()
	}
	if !slices.Contains([]string{string(v1alpha1.TierCritical), string(v1alpha1.TierNonCritical)}, *tier) {
		fmt.Fprintf(stderr, "import openslo: --tier %q: must be critical or non-critical (OpenSLO has no tier, and there is no default)\n", *tier)
		return usage()
	}
	opts := openslo.Options{Namespace: *namespace, Tier: *tier}
	if *selector != "" {
		opts.Selector = map[string]string{}
		for _, kv := range strings.Split(*selector, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				fmt.Fprintf(stderr, "import openslo: --selector %q: must be k=v[,k=v], such as app=checkout\n", *selector)
				return 2
			}
			opts.Selector[k] = v
		}
	}
	validator, err := validatorOf(crdYAML, profileKind)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// The controller's defaults, as validate has them without flags.
	var renderOpts render.Options
	options.BindRender(flag.NewFlagSet("defaults", flag.ContinueOnError), &renderOpts)

	docs, loadErrs := LoadAll(files, stdin)
	failed := len(loadErrs) > 0
	for _, e := range loadErrs {
		fmt.Fprintln(stderr, e)
	}
	in := make([]openslo.Document, 0, len(docs))
	for _, d := range docs {
		if d.Object == nil {
			fmt.Fprintf(stderr, "%s: not an OpenSLO document but %s\n", d.Source, d.NotAnObject)
			failed = true
			continue
		}
		in = append(in, openslo.Document{Source: d.Source, Object: d.Object})
	}
	res := openslo.Convert(in, opts)
	for _, n := range res.Notes {
		fmt.Fprintln(stderr, "Note:", n)
	}
	for _, r := range res.Refusals {
		fmt.Fprintln(stderr, r)
		failed = true
	}
	var out []map[string]any
	for _, p := range res.Profiles {
		// Validate a copy: validation applies the CRD's defaults in place, and the printed profile stays as
		// short as what was imported.
		verdict := validator.Profile(deepCopy(p.Object), renderOpts)
		for _, e := range verdict.Errors {
			fmt.Fprintf(stderr, "%s: the ReliabilityProfile of service %s is not valid: %s\n", strings.Join(p.Sources, ", "), p.Service, e.Error())
			failed = true
		}
		out = append(out, p.Object)
	}
	if failed {
		fmt.Fprintf(stderr, "import openslo: nothing printed: %d refusal(s), %d profile(s) generated\n", len(res.Refusals), len(res.Profiles))
		return 1
	}
	if err := write(stdout, out, "yaml"); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stderr, "import openslo: %d profile(s)\n", len(out))
	return 0
}

func deepCopy(obj map[string]any) map[string]any {
	b, err := yaml.Marshal(obj)
	if err != nil {
		panic(err) // a map of decoded YAML always marshals
	}
	var c map[string]any
	if err := yaml.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return c
}
