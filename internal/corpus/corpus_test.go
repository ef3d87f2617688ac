package corpus_test

// TestCorpus sends every profile of testdata/profiles to a real kube-apiserver that has the operator's CRD
// and the validating webhook configuration of config/webhook, with the operator's real handler serving it,
// and checks each file's verdict against its header. It runs the offline validation of the CLI on the same
// document and checks that it reaches the same verdict, with the same field paths and the same warnings:
// a GitOps pipeline that runs `reliability-operator validate` must refuse exactly what the cluster refuses.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
	"github.com/reliability-operator/reliability-operator/internal/testenv/validationenv"
)

// namespace holds every profile of the corpus.
const namespace = "corpus"

// minInvalid and minValid keep the test from passing on a corpus folder that lost its files.
const (
	minInvalid = 200
	minValid   = 30
)

// renderOptions are the operator's render options in the webhook and in the offline validation alike, with
// every optional child switched on, so that the whole render runs on every profile.
var renderOptions = render.Options{
	MonitoringLabels:        map[string]string{"release": "test"},
	GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}},
	VeleroNamespace:         "velero",
}

// k8s creates the profiles with strict field validation, as `kubectl apply` does, so that an unknown field
// is refused rather than pruned. Its warnings go to the collector in the request's context.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The webhook server logs through controller-runtime; only its errors are of interest here.
	crlog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	// The operator's validating handler, served where envtest pointed the shipped webhook configuration.
	env, cfg, stop, err := validationenv.Start(renderOptions)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	if !servesProfiles(env.WebhookInstallOptions.ValidatingWebhooks) {
		fmt.Fprintf(os.Stderr, "%s has no validating webhook for reliabilityprofiles: the corpus would test the CRD alone\n", testenv.ValidatingWebhookManifests())
		return 1
	}

	scheme, err := operator.NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = warningCollector{}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme, FieldValidation: metav1.FieldValidationStrict}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	return m.Run()
}

// servesProfiles says whether one of the webhook configurations validates the creation of profiles.
func servesProfiles(configs []*admissionregistrationv1.ValidatingWebhookConfiguration) bool {
	for _, c := range configs {
		for _, w := range c.Webhooks {
			for _, r := range w.Rules {
				if slices.Contains(r.Resources, "reliabilityprofiles") && (slices.Contains(r.Operations, admissionregistrationv1.Create) ||
					slices.Contains(r.Operations, admissionregistrationv1.OperationAll)) {
					return true
				}
			}
		}
	}
	return false
}

// warningCollector hands each warning of a response to the collector of its request's context.
type warningCollector struct{}

type warningsKey struct{}

type warnings struct {
	mu    sync.Mutex
	texts []string
}

func (warningCollector) HandleWarningHeaderWithContext(ctx context.Context, code int, _ string, text string) {
	if w, ok := ctx.Value(warningsKey{}).(*warnings); ok && code == 299 {
		w.mu.Lock()
		w.texts = append(w.texts, text)
		w.mu.Unlock()
	}
}

// corpusCase is one file of the corpus and what its header expects.
type corpusCase struct {
	name    string // invalid/001-name-uppercase
	valid   bool   // in valid/
	what    string
	refused []string // want: refused <path>
	warn    []string // warn: <path>
	rule    string   // rule: <id>
	object  map[string]any
}

// problem is a field error or a warning, with the field path it names.
type problem struct{ path, message string }

// verdict is what admission, or the offline validation, said about one profile.
type verdict struct {
	refused  bool
	errors   []problem
	warnings []string
	raw      string // the whole error, for the report
}

func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	var invalid, valid int
	for _, c := range cases {
		if c.valid {
			valid++
		} else {
			invalid++
		}
	}
	if invalid < minInvalid || valid < minValid {
		t.Fatalf("the corpus has %d invalid and %d valid profiles; want at least %d and %d", invalid, valid, minInvalid, minValid)
	}

	var refused, warned, accepted, validRefused, invalidAccepted int
	var failed []string
	for _, c := range cases {
		var admitted, offline verdict
		ok := t.Run(c.name, func(t *testing.T) {
			admitted = admit(t, c.object)
			offline = validateOffline(t, c.object)
			for _, p := range check(c, admitted, offline) {
				t.Error(p)
			}
		})
		switch {
		case !c.valid && admitted.refused:
			refused++
		case !c.valid:
			invalidAccepted++
		case admitted.refused:
			validRefused++
		default:
			accepted++
			if len(admitted.warnings) > 0 {
				warned++
			}
		}
		if !ok {
			failed = append(failed, c.name)
		}
	}
	t.Logf("%d invalid profiles: %d refused, %d accepted; %d valid profiles: %d accepted (%d with warnings), %d refused",
		invalid, refused, invalidAccepted, valid, accepted, warned, validRefused)
	if len(failed) > 0 {
		t.Errorf("%d of %d files do not get the verdict their header states:\n  %s", len(failed), len(cases), strings.Join(failed, "\n  "))
	}
}

// check compares the verdicts of admission and of the offline validation with the file's header and with
// each other, and returns every disagreement.
func check(c corpusCase, admitted, offline verdict) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	if c.valid {
		if admitted.refused {
			add("refused at admission, want accepted:\n%s", indent(admitted.raw))
		}
		if offline.refused {
			add("refused offline, want accepted:\n%s", indent(describe(offline.errors)))
		}
		for _, want := range c.warn {
			if !slices.ContainsFunc(admitted.warnings, func(w string) bool { return under(warningPath(w), want) }) {
				add("no admission warning about %s; the warnings were: %s", want, quoteList(admitted.warnings))
			}
		}
		for _, w := range admitted.warnings {
			path := warningPath(w)
			if path == "" {
				add("the admission warning %q does not start with the field path it is about", truncate(w))
			} else if !slices.ContainsFunc(c.warn, func(want string) bool { return under(path, want) }) {
				add("an admission warning the header does not expect: %q", truncate(w))
			}
		}
		if c.rule != "" && !slices.ContainsFunc(admitted.warnings, func(w string) bool { return strings.Contains(w, c.rule) }) {
			add("no admission warning names rule %s: %s", c.rule, quoteList(admitted.warnings))
		}
	} else {
		if !admitted.refused {
			add("accepted at admission, want refused at %s (warnings: %s)", strings.Join(c.refused, ", "), quoteList(admitted.warnings))
		}
		if !offline.refused {
			add("accepted offline, want refused at %s", strings.Join(c.refused, ", "))
		}
		if admitted.refused {
			paths := pathsOf(admitted.errors)
			for _, want := range c.refused {
				if !slices.ContainsFunc(paths, func(p string) bool { return under(p, want) }) {
					add("the refusal does not name %s; it names %s:\n%s", want, quoteList(paths), indent(admitted.raw))
				}
			}
			for _, p := range admitted.errors {
				if !strings.Contains(p.message, notChecked) && !slices.ContainsFunc(c.refused, func(want string) bool { return under(p.path, want) }) {
					add("the refusal names %s, which the header does not expect: %s", orNone(p.path), truncate(p.message))
				}
			}
			if c.rule != "" && !slices.ContainsFunc(admitted.errors, func(p problem) bool { return strings.Contains(p.message, c.rule) }) {
				add("the refusal does not name rule %s:\n%s", c.rule, indent(admitted.raw))
			}
		}
	}
	for _, p := range admitted.errors {
		if strings.Contains(p.message, "should match '") {
			add("the message for %s is a bare pattern, not words: %s", orNone(p.path), truncate(p.message))
		}
	}

	// The offline validation must say what admission says.
	if admitted.refused != offline.refused {
		add("admission %s and offline %s disagree", word(admitted.refused), word(offline.refused))
	}
	if a, o := pathsOf(admitted.errors), pathsOf(offline.errors); !slices.Equal(a, o) {
		add("admission names %s, offline %s:\n  admission:\n%s\n  offline:\n%s", quoteList(a), quoteList(o),
			indent(describe(admitted.errors)), indent(describe(offline.errors)))
	}
	if a, o := set(admitted.warnings), set(offline.warnings); !slices.Equal(a, o) {
		add("admission warns %s, offline %s", quoteList(a), quoteList(o))
	}
	return out
}

// admit creates the profile and returns the API server's verdict with the warnings of the request.
func admit(t *testing.T, obj map[string]any) verdict {
	t.Helper()
	w := &warnings{}
	ctx := context.WithValue(context.Background(), warningsKey{}, w)
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	err := k8s.Create(ctx, u)
	w.mu.Lock()
	v := verdict{warnings: set(w.texts)}
	w.mu.Unlock()
	if err == nil {
		return v
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || (!apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) && !apierrors.IsForbidden(err)) {
		t.Fatalf("the API server failed instead of judging the profile: %v", err)
	}
	v.refused, v.raw = true, err.Error()
	v.errors = statusProblems(status.Status())
	return v
}

// unknownField finds the unknown and duplicate fields in the API server's strict decoding error, which is a
// bad request with no causes.
var unknownField = regexp.MustCompile(`(?:unknown|duplicate) field "([^"]+)"`)

// statusProblems reads the field errors of a refusal: the causes of an Invalid status (the CRD's schema and
// rules, or a webhook that returns causes), or else the paths its message names.
func statusProblems(s metav1.Status) []problem {
	var out []problem
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			out = append(out, problem{path: fieldOf(c.Field, c.Message), message: c.Message})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range unknownField.FindAllStringSubmatch(s.Message, -1) {
		out = append(out, problem{path: m[1], message: m[0]})
	}
	if len(out) > 0 {
		return out
	}
	// A webhook denial without causes: one field error per line, or the whole message.
	msg := s.Message
	if i := strings.Index(msg, "denied the request: "); i >= 0 {
		msg = msg[i+len("denied the request: "):]
	}
	for _, line := range strings.Split(msg, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, problem{path: fieldOf("", line), message: line})
		}
	}
	return out
}

// validateOffline runs the CLI's offline validation on the document, with the generated CRD.
func validateOffline(t *testing.T, obj map[string]any) (v verdict) {
	t.Helper()
	offline, err := validationenv.Offline()
	if err != nil {
		t.Fatal(err)
	}
	// A panic is a finding about one file (the CLI would crash on it), not the end of the corpus run.
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("the offline validation panicked: %v", r)
		}
	}()
	result := offline.Profile(runtime.DeepCopyJSON(obj), renderOptions)
	v = verdict{refused: len(result.Errors) > 0, warnings: set(result.Warnings)}
	for _, e := range result.Errors {
		v.errors = append(v.errors, problem{path: fieldOf(e.Field, e.ErrorBody()), message: e.ErrorBody()})
	}
	return v
}

// pathPrefix is a field path at the start of a message, such as spec.slos[0].objective or
// spec.selector.matchLabels[app name].
var pathPrefix = regexp.MustCompile(`^((?:metadata|spec|status|apiVersion|kind)(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*)(?::|\s|$)`)

// warningPath is the field path a warning starts with.
func warningPath(w string) string {
	if m := pathPrefix.FindStringSubmatch(w); m != nil {
		return m[1]
	}
	return ""
}

// pathInMessage is the first field path a message names, such as metadata.name in `Invalid value: "object":
// metadata.name: at most 63 characters`, or spec.metrics.port in `Checked value must be of type integer with
// format int32 in spec.metrics.port`.
var pathInMessage = regexp.MustCompile(`(?:^|[\s"(])((?:metadata|spec)(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*)`)

// fieldOf is the field path of an error: its own, or when it has none (a rule on the whole object, a
// format check of the schema validator), the first one its message names.
func fieldOf(field, message string) string {
	if field != "" && field != "<nil>" {
		return field
	}
	if m := pathInMessage.FindStringSubmatch(message); m != nil {
		return m[1]
	}
	return ""
}

// under says whether path is want or a field inside it.
func under(path, want string) bool {
	return path == want || strings.HasPrefix(path, want+".") || strings.HasPrefix(path, want+"[")
}

// notChecked is the API server's note that it skipped the CEL rules after a blocking schema error. It names
// no field; it is left out of the comparisons.
const notChecked = "some validation rules were not checked"

// pathsOf returns the sorted, distinct field paths of the problems.
func pathsOf(ps []problem) []string {
	var out []string
	for _, p := range ps {
		if !strings.Contains(p.message, notChecked) {
			out = append(out, p.path)
		}
	}
	return set(out)
}

func set(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func describe(ps []problem) string {
	var lines []string
	for _, p := range ps {
		lines = append(lines, orNone(p.path)+": "+truncate(p.message))
	}
	return strings.Join(lines, "\n")
}

func quoteList(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", truncate(x))
	}
	return strings.Join(q, ", ")
}

func orNone(path string) string {
	if path == "" {
		return "(no field)"
	}
	return path
}

func word(refused bool) string {
	if refused {
		return "refuses"
	}
	return "accepts"
}

// truncate keeps reports readable when a profile holds a huge value.
func truncate(s string) string {
	if len(s) > 400 {
		return s[:400] + fmt.Sprintf("... (%d characters)", len(s))
	}
	return s
}

func indent(s string) string {
	s = truncate(s)
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// loadCorpus reads every file of testdata/profiles/{invalid,valid} with the CLI's loader and its header.
func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	root := filepath.Join(testenv.RepoRoot(), "testdata", "profiles")
	var cases []corpusCase
	names := map[string]string{}
	for _, folder := range []string{"invalid", "valid"} {
		files, err := filepath.Glob(filepath.Join(root, folder, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			c := corpusCase{name: folder + "/" + strings.TrimSuffix(filepath.Base(f), ".yaml"), valid: folder == "valid"}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.readHeader(b); err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			docs, err := cli.Load([]string{f}, nil)
			if err != nil || len(docs) != 1 {
				t.Errorf("%s: want one profile in the file, read %d (%v)", c.name, len(docs), err)
				continue
			}
			c.object = docs[0].Object
			meta, _ := c.object["metadata"].(map[string]any)
			if ns, _ := meta["namespace"].(string); ns != namespace {
				t.Errorf("%s: the profile is in namespace %q; the corpus uses %q", c.name, ns, namespace)
			}
			if name, _ := meta["name"].(string); name != "" {
				if other, dup := names[name]; dup {
					t.Errorf("%s: metadata.name %q is also the name of %s", c.name, name, other)
				}
				names[name] = c.name
			}
			cases = append(cases, c)
		}
	}
	return cases
}

// readHeader reads the comment lines at the top of a file.
func (c *corpusCase) readHeader(b []byte) error {
	var what []string
	accepted := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, found := strings.CutPrefix(sc.Text(), "#")
		if !found {
			break
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "want: accepted":
			accepted = true
		case strings.HasPrefix(line, "want: refused "):
			c.refused = append(c.refused, strings.TrimSpace(strings.TrimPrefix(line, "want: refused ")))
		case strings.HasPrefix(line, "warn: "):
			c.warn = append(c.warn, strings.TrimSpace(strings.TrimPrefix(line, "warn: ")))
		case strings.HasPrefix(line, "rule: "):
			c.rule = strings.TrimSpace(strings.TrimPrefix(line, "rule: "))
		case strings.HasPrefix(line, "want:"):
			return fmt.Errorf("unknown header line %q", line)
		default:
			what = append(what, line)
		}
	}
	c.what = strings.Join(what, " ")
	switch {
	case c.what == "":
		return errors.New("the header does not say what the case shows")
	case c.valid && (!accepted || len(c.refused) > 0):
		return errors.New("a file in valid/ must say `# want: accepted` and nothing refused")
	case !c.valid && (accepted || len(c.refused) == 0 || len(c.warn) > 0):
		return errors.New("a file in invalid/ must say `# want: refused <field path>` for each field it expects, and no warn")
	}
	return nil
}
