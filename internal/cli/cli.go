// Package cli is the offline command line of the operator, for GitOps pipelines and pre-commit hooks:
//
//	reliability-operator render   [-o yaml|json]      [--skip-other-kinds] [render flags] -f FILE|DIR|- ... [FILE|DIR ...]
//	reliability-operator render   -o rules|mimir-rules [--rules-dir DIR] [render flags] -f FILE|DIR|- ...
//	reliability-operator validate [-o text|json|yaml] [--skip-other-kinds] [render flags] -f FILE|DIR|- ... [FILE|DIR ...]
//	reliability-operator import openslo --tier critical|non-critical [--namespace NS] [--selector k=v] -f FILE|DIR|- ...
//	reliability-operator version
//
// Both read ReliabilityProfiles from files and apply the same admission rules as the API server with the
// operator's validating webhook (the embedded CRD, evaluated by internal/validate) and the same render code
// as the controller. The render flags are the controller's own (--monitoring-labels, --velero-namespace,
// --slo-window-interval, --logging-cluster-outputs, --grafana-instance-selector), bound by internal/options
// for both, with the same defaults: render with the controller's flags prints exactly what it applies.
//
// Every file is read even when another does not parse. --skip-other-kinds leaves out documents of other
// groups in a mixed folder but still checks every reliability.dev document and near misses of its group and
// kind. `import openslo` turns OpenSLO v1 documents into ReliabilityProfiles (internal/openslo maps them;
// importopenslo.go validates each as validate does before printing any). `validate -o json` prints one Report (per document its verdict, errors with their field, warnings;
// the files that could not be read).
//
// `render -o rules` prints only the spec.groups of the PrometheusRules, as a plain Prometheus rule file for
// rulers that read no Kubernetes objects (Thanos Ruler, Mimir's and Cortex's rulers, Prometheus itself);
// profiles without a PrometheusRule add nothing, and other children are not printed. Prometheus refuses two
// groups of one name in one file, and two profiles of one service in two namespaces both have
// <service>-slo-<name>, so the one file names each group "<namespace>/<profile>/<group>": unique whatever
// the profiles, and the same for the same input (qualifying only on a clash would rename groups when a
// profile is added). Group names reach no alert or recorded series, only Prometheus' rule_group metrics.
// --rules-dir DIR writes one file per profile instead, <namespace>-<profile>.rules.yaml, with the groups
// exactly as in the cluster. -o mimir-rules is mimirtool's format (`namespace:` then `groups:`), ruler
// namespace <namespace>-<profile>: on standard output one YAML document per profile, with --rules-dir one
// file per profile. Exit codes: 0 all valid, 1 any invalid or unreadable, 2 usage.
package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/buildinfo"
	"github.com/reliability-operator/reliability-operator/internal/options"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/validate"
)

// validatorOf compiles the served version of the CRD of a kind, from crdYAML (the operator's CRDs).
func validatorOf(crdYAML []byte, kind string) (*validate.Validator, error) {
	crd, err := crdOf(crdYAML, kind)
	if err != nil {
		return nil, err
	}
	return validate.New(crd, v1alpha1.GroupVersion.Version)
}

// Commands are the subcommands Run knows.
var Commands = []string{"render", "validate", "report", "import", "version"}

// IsCommandLine tells whether the process arguments are a subcommand's rather than the controller's flags:
// any first word that is not a flag. An unknown word, such as a typo of validate, must end in a usage error,
// never start the controller against whatever kubeconfig is at hand.
func IsCommandLine(args []string) bool {
	return len(args) > 0 && !strings.HasPrefix(args[0], "-")
}

// outputs are the -o formats of each command, the default first: render prints manifests, validate a
// verdict for humans (text) or one report for machines (json, yaml). render's rules and mimir-rules are the
// PrometheusRules' groups alone, as rule files for rulers that read no Kubernetes objects.
var outputs = map[string][]string{"render": {"yaml", "json", "rules", "mimir-rules"}, "validate": {"text", "json", "yaml"}}

// Run runs one subcommand and returns the process exit code: 0 when every profile is valid (and rendered),
// 1 when any is not, 2 on a usage error.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, crdYAML []byte) int {
	if len(args) == 0 || !slices.Contains(Commands, args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "reliability-operator: unknown command %q\n", args[0])
		}
		fmt.Fprintf(stderr, "usage: reliability-operator {render|validate} [flags] -f FILE|DIR|- [FILE|DIR ...]   (-h for the flags)\n"+
			"       reliability-operator report [-o text|html] [-f FILE|DIR ...]   (the cluster's profiles without -f)\n"+
			"       reliability-operator import openslo --tier critical|non-critical [--namespace NS] [--selector k=v] -f FILE|DIR|- ...\n"+
			"       reliability-operator version\n"+
			"       reliability-operator [controller flags]   (run with -h for them)\n")
		return 2
	}
	cmd := args[0]
	if cmd == "version" {
		if len(args) > 1 {
			fmt.Fprintln(stderr, "usage: reliability-operator version")
			return 2
		}
		fmt.Fprintf(stdout, "reliability-operator %s (revision %s, %s)\n", buildinfo.Version, buildinfo.Revision, runtime.Version())
		return 0
	}
	if cmd == "report" {
		return runReport(args[1:], stdin, stdout, stderr, crdYAML, time.Now())
	}
	if cmd == "import" {
		return runImport(args[1:], stdin, stdout, stderr, crdYAML)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "a profile file, a folder of them (read recursively), or - for standard input; repeatable")
	output := fs.String("o", outputs[cmd][0], "output format: "+strings.Join(outputs[cmd], ", "))
	skipOthers := fs.Bool("skip-other-kinds", false, "skip documents that are not of the reliability.dev group (Deployments, Services, patches of a mixed GitOps folder) instead of failing on them; a reliability.dev document of a wrong kind or version, or a near miss of the group or kind, still fails")
	// The operator's own flags that shape children, bound by the same code as main.go's: pass the
	// controller's values to render what it applies, and to validate what its admission webhook accepts.
	var opts render.Options
	options.BindRender(fs, &opts)
	rulesDir := ""
	if cmd == "render" {
		fs.StringVar(&rulesDir, "rules-dir", "", "with -o rules or -o mimir-rules: write one rule file per profile, <namespace>-<profile>.rules.yaml, into this folder, its groups named as in the cluster, instead of printing one file")
	}
	policyPath := fs.String("policy", "", "a ReliabilityPolicy file: the cluster's policy, applied as the operator applies it (its backends and labels over the render flags, its tier defaults where a profile sets none)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	// Arguments after the flags are files too, as a pre-commit hook passes the staged files.
	files = append(files, fs.Args()...)
	if len(files) == 0 || !slices.Contains(outputs[cmd], *output) || (rulesDir != "" && !isRules(*output)) {
		fs.Usage()
		return 2
	}
	validator, err := validatorOf(crdYAML, "ReliabilityProfile")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	pol, err := loadPolicy(*policyPath, crdYAML)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// A file that cannot be read or parsed is reported, and every other file is still checked: one broken
	// file in a GitOps folder must not hide the verdicts of the rest.
	docs, loadErrs := LoadAll(files, stdin)
	report := newReport(loadErrs)
	var rendered []map[string]any
	for _, d := range docs {
		if *skipOthers && !claimsToBeAProfile(d) {
			report.Skipped = append(report.Skipped, identify(d))
			continue
		}
		result, objs := check(d, validator, pol, opts)
		report.Documents = append(report.Documents, result)
		rendered = append(rendered, objs...)
	}
	report.summarise()

	if cmd == "validate" && *output != "text" {
		if err := writeReport(stdout, report, *output); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	} else {
		report.print(stderr)
	}
	switch {
	case cmd == "validate" && *output == "text" && report.Valid:
		fmt.Fprintln(stdout, report.Summary)
	case cmd == "validate" && *output == "text":
		fmt.Fprintln(stderr, report.Summary)
	case cmd == "render" && report.Valid && isRules(*output):
		if err := writeRules(stdout, rendered, *output, rulesDir); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	case cmd == "render" && report.Valid:
		if err := write(stdout, rendered, *output); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if !report.Valid {
		return 1
	}
	return 0
}

// check validates one Document as a create through the API server and the operator's validating webhook
// would (internal/validate), then renders it like the controller. It returns the verdict, each error naming
// its field, with the admission warnings, and the rendered children of a valid profile.
func check(d Document, v *validate.Validator, pol *v1alpha1.ReliabilityPolicySpec, opts render.Options) (DocumentResult, []map[string]any) {
	r := DocumentResult{DocumentID: identify(d), Errors: []Problem{}, Warnings: []string{}}
	if p := notAProfile(d); p != nil {
		r.Errors = append(r.Errors, *p)
		return r, nil
	}
	verdict := v.Profile(d.Object, policy.Options(pol, opts))
	if verdict.Warnings != nil {
		r.Warnings = verdict.Warnings
	}
	if len(verdict.Errors) > 0 {
		for _, e := range verdict.Errors {
			r.Errors = append(r.Errors, Problem{Field: e.Field, Type: e.Type.String(), Message: e.ErrorBody()})
		}
		return r, nil
	}
	fail := func(err error) (DocumentResult, []map[string]any) {
		r.Errors = append(r.Errors, Problem{Message: err.Error()})
		return r, nil
	}
	rp, err := validate.Decode(d.Object)
	if err != nil {
		return fail(err)
	}
	if rp.Namespace == "" {
		rp.Namespace = "default" // as kubectl apply would
	}
	eff := policy.Apply(rp, pol, opts)
	objs, err := render.Render(eff.Profile, eff.Render)
	if err != nil {
		// Admission renders too, so this is only reached if the two disagree; say it rather than hide it.
		return fail(err)
	}
	var out []map[string]any
	for _, o := range objs {
		u, err := render.Manifest(o)
		if err != nil {
			return fail(err)
		}
		out = append(out, u.Object)
	}
	r.Valid = true
	return r, out
}

// Document is one YAML or JSON Document of an input file.
type Document struct {
	Source string // file:document-number
	Object map[string]any
	// NotAnObject says what the document is when it is not a mapping ("a list"), such as a kustomize JSON
	// patch; Object is nil then.
	NotAnObject string
}

// Load reads every Document of the given files, folders (recursively: *.yaml, *.yml, *.json) and standard
// input, in a stable order, and fails at the first file that cannot be read or parsed. Documents that are
// not ReliabilityProfiles are kept so they can be reported or skipped, except kustomization files, which sit
// beside profiles in GitOps folders.
func Load(paths []string, stdin io.Reader) ([]Document, error) {
	docs, errs := LoadAll(paths, stdin)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return docs, nil
}

// LoadAll is Load that goes on past a file it cannot read or parse: it returns the documents of every
// other file, and one *LoadError per file that failed.
func LoadAll(paths []string, stdin io.Reader) ([]Document, []error) {
	var docs []Document
	var errs []error
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, &LoadError{Source: "<stdin>", Err: err})
				continue
			}
			d, err := split("<stdin>", b)
			if err != nil {
				errs = append(errs, err)
			}
			docs = append(docs, d...)
			continue
		}
		var files []string
		err := filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := filepath.Ext(path)
			if !e.IsDir() && (path == p || ext == ".yaml" || ext == ".yml" || ext == ".json") &&
				!strings.HasPrefix(filepath.Base(path), "kustomization.") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fileError(p, err))
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fileError(f, err))
				continue
			}
			d, err := split(f, b)
			if err != nil {
				errs = append(errs, err)
			}
			docs = append(docs, d...)
		}
	}
	return docs, errs
}

// split reads the documents of a file the way the API server reads a request body: YAML becomes JSON, and
// integral numbers become integers (a plain JSON decoder would make every number a float, which the CRD's
// int-or-string rules refuse). A document that does not parse fails the whole file: what follows it may be
// misread.
func split(source string, b []byte) ([]Document, error) {
	var docs []Document
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for i := 1; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, &LoadError{Source: source, Document: i, Err: err}
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, &LoadError{Source: source, Document: i, Err: err}
		}
		var v any
		if err := utiljson.Unmarshal(js, &v); err != nil {
			return nil, &LoadError{Source: source, Document: i, Err: err}
		}
		doc := Document{Source: fmt.Sprintf("%s:%d", source, i)}
		switch v := v.(type) {
		case nil: // an empty document, or only comments
			continue
		case map[string]any:
			if len(v) == 0 {
				continue
			}
			doc.Object = v
		case []any:
			doc.NotAnObject = "a list"
		default:
			doc.NotAnObject = fmt.Sprintf("a %T", v)
		}
		docs = append(docs, doc)
	}
}

func write(w io.Writer, objs []map[string]any, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	}
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}

func isRules(format string) bool { return format == "rules" || format == "mimir-rules" }

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
