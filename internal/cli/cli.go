// Package cli is the offline command line of the operator, for GitOps pipelines:
//
//	reliability-operator render   -f FILE|DIR|- [-o yaml|json] [--monitoring-labels k=v,...]
//	reliability-operator validate -f FILE|DIR|-
//
// Both read ReliabilityProfiles from files and apply the same admission rules as the API server (the
// embedded CRD, evaluated by internal/validate) and the same render code as the controller.
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

	"k8s.io/apimachinery/pkg/labels"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/buildinfo"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/validate"
)

// Commands are the subcommands Run knows.
var Commands = []string{"render", "validate", "version"}

// IsCommandLine tells whether the process arguments are a subcommand's rather than the controller's flags:
// any first word that is not a flag. An unknown word, such as a typo of validate, must end in a usage error,
// never start the controller against whatever kubeconfig is at hand.
func IsCommandLine(args []string) bool {
	return len(args) > 0 && !strings.HasPrefix(args[0], "-")
}

// Run runs one subcommand and returns the process exit code: 0 when every profile is valid (and rendered),
// 1 when any is not, 2 on a usage error.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, crdYAML []byte) int {
	if len(args) == 0 || !slices.Contains(Commands, args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "reliability-operator: unknown command %q\n", args[0])
		}
		fmt.Fprintf(stderr, "usage: reliability-operator {render|validate} -f FILE|DIR|- [flags]\n"+
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
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "a profile file, a folder of them (read recursively), or - for standard input; repeatable")
	output := fs.String("o", "yaml", "output format of render: yaml or json")
	monitoringLabels := fs.String("monitoring-labels", "", "labels added to ServiceMonitors and PrometheusRules, as the operator's flag")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if len(files) == 0 || (cmd != "render" && cmd != "validate") || (*output != "yaml" && *output != "json") {
		fs.Usage()
		return 2
	}
	extra, err := labels.ConvertSelectorToLabelsMap(*monitoringLabels)
	if err != nil {
		fmt.Fprintf(stderr, "--monitoring-labels: %v\n", err)
		return 2
	}
	validator, err := validate.New(crdYAML, v1alpha1.GroupVersion.Version)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// A file that cannot be read or parsed is reported, and every other file is still checked: one broken
	// file in a GitOps folder must not hide the verdicts of the rest.
	docs, loadErrs := LoadAll(files, stdin)
	failed := len(loadErrs) > 0
	for _, err := range loadErrs {
		fmt.Fprintln(stderr, err)
	}

	var rendered []map[string]any
	for _, d := range docs {
		problems, warnings, objs := check(d, validator, render.Options{MonitoringLabels: extra})
		for _, w := range warnings {
			fmt.Fprintf(stderr, "%s: %s: Warning: %s\n", d.Source, d.describe(), w)
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s: %s\n", d.Source, d.describe(), p)
		}
		failed = failed || len(problems) > 0
		rendered = append(rendered, objs...)
	}
	switch {
	case cmd == "validate" && !failed:
		fmt.Fprintf(stdout, "%d profile(s) valid\n", len(docs))
	case cmd == "render" && !failed:
		if err := write(stdout, rendered, *output); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

// check validates one Document as a create through the API server and the operator's validating webhook
// would (internal/validate), then renders it like the controller. It returns the problems, each naming its
// field, the admission warnings, and the rendered children.
func check(d Document, v *validate.Validator, opts render.Options) ([]string, []string, []map[string]any) {
	if d.Object["apiVersion"] != v1alpha1.GroupVersion.String() || d.Object["kind"] != "ReliabilityProfile" {
		return []string{fmt.Sprintf("not a ReliabilityProfile (apiVersion %v, kind %v)", d.Object["apiVersion"], d.Object["kind"])}, nil, nil
	}
	verdict := v.Profile(d.Object, opts)
	if len(verdict.Errors) > 0 {
		problems := make([]string, 0, len(verdict.Errors))
		for _, e := range verdict.Errors {
			if e.Field == "" {
				problems = append(problems, e.ErrorBody()) // about the whole object
				continue
			}
			problems = append(problems, e.Error())
		}
		return problems, verdict.Warnings, nil
	}
	rp, err := validate.Decode(d.Object)
	if err != nil {
		return []string{err.Error()}, verdict.Warnings, nil
	}
	if rp.Namespace == "" {
		rp.Namespace = "default" // as kubectl apply would
	}
	objs, err := render.Render(rp, opts)
	if err != nil {
		// Admission renders too, so this is only reached if the two disagree; say it rather than hide it.
		return []string{err.Error()}, verdict.Warnings, nil
	}
	var out []map[string]any
	for _, o := range objs {
		u, err := render.Manifest(o)
		if err != nil {
			return []string{err.Error()}, verdict.Warnings, nil
		}
		out = append(out, u.Object)
	}
	return nil, verdict.Warnings, out
}

// Document is one YAML or JSON Document of an input file.
type Document struct {
	Source string // file:document-number
	Object map[string]any
}

func (d Document) describe() string {
	meta, _ := d.Object["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	if ns == "" {
		ns = "default"
	}
	return fmt.Sprintf("%v %s/%s", d.Object["kind"], ns, name)
}

// Load reads every Document of the given files, folders (recursively: *.yaml, *.yml, *.json) and standard
// input, in a stable order, and fails at the first file that cannot be read or parsed. Documents that are
// not ReliabilityProfiles are kept so they can be reported, except kustomization files, which sit beside
// profiles in GitOps folders.
func Load(paths []string, stdin io.Reader) ([]Document, error) {
	docs, errs := LoadAll(paths, stdin)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return docs, nil
}

// LoadAll is Load that goes on past a file it cannot read or parse: it returns the documents of every
// other file, and one error per file that failed.
func LoadAll(paths []string, stdin io.Reader) ([]Document, []error) {
	var docs []Document
	var errs []error
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("<stdin>: %w", err))
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
			errs = append(errs, err)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
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
// int-or-string rules refuse).
func split(source string, b []byte) ([]Document, error) {
	var docs []Document
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for i := 1; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: Document %d: %w", source, i, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: Document %d: %w", source, i, err)
		}
		obj := map[string]any{}
		if err := utiljson.Unmarshal(js, &obj); err != nil {
			return nil, fmt.Errorf("%s: Document %d: %w", source, i, err)
		}
		if len(obj) > 0 {
			docs = append(docs, Document{Source: fmt.Sprintf("%s:%d", source, i), Object: obj})
		}
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

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
