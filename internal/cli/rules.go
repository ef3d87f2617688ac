package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// RuleSet is the rule groups of one rendered PrometheusRule, named by the profile it came from (a
// PrometheusRule has its profile's namespace and name).
type RuleSet struct {
	Namespace, Profile string
	Groups             []any
}

// FileName is the rule file of a RuleSet in a --rules-dir folder: one file per profile, so every group keeps
// the name it has in the cluster (Prometheus refuses two groups of one name in one file, and two profiles of
// one service in two namespaces both have <service>-slo-<name>).
func (s RuleSet) FileName() string { return s.Namespace + "-" + s.Profile + ".rules.yaml" }

// MimirNamespace is the ruler namespace of a RuleSet in mimirtool's format: the same words as its file name,
// without a slash, which the ruler API takes as a path segment.
func (s RuleSet) MimirNamespace() string { return s.Namespace + "-" + s.Profile }

// RuleSets picks the PrometheusRules out of rendered children, in their order; every other kind has no
// place in a rule file.
func RuleSets(objs []map[string]any) []RuleSet {
	var sets []RuleSet
	for _, o := range objs {
		if o["kind"] != "PrometheusRule" {
			continue
		}
		meta, _ := o["metadata"].(map[string]any)
		spec, _ := o["spec"].(map[string]any)
		groups, _ := spec["groups"].([]any)
		ns, _ := meta["namespace"].(string)
		name, _ := meta["name"].(string)
		sets = append(sets, RuleSet{Namespace: ns, Profile: name, Groups: groups})
	}
	return sets
}

// QualifiedGroups is every group of every RuleSet in one list, each name prefixed with
// "<namespace>/<profile>/", so that one file holds any number of profiles without two groups of one name.
// Only the group names change: alerts and recorded series carry no group name, so they are those of the
// cluster.
func QualifiedGroups(sets []RuleSet) []any {
	var all []any
	for _, s := range sets {
		for _, g := range s.Groups {
			m, ok := g.(map[string]any)
			if !ok {
				all = append(all, g)
				continue
			}
			q := make(map[string]any, len(m))
			for k, v := range m {
				q[k] = v
			}
			q["name"] = fmt.Sprintf("%s/%s/%v", s.Namespace, s.Profile, m["name"])
			all = append(all, q)
		}
	}
	return all
}

// ruleFile is a Prometheus rule file (`groups:`), or mimirtool's (`namespace:` then `groups:`) when
// mimirNamespace is set.
func ruleFile(groups []any, mimirNamespace string) ([]byte, error) {
	if groups == nil {
		groups = []any{} // `groups: []` rather than `groups: null`, which promtool refuses
	}
	doc := map[string]any{"groups": groups}
	if mimirNamespace != "" {
		doc["namespace"] = mimirNamespace
	}
	return yaml.Marshal(doc)
}

// writeRules prints the rule groups of the rendered PrometheusRules: with -o rules one Prometheus rule file
// of qualified group names, with -o mimir-rules one mimirtool document per profile; with a dir, one file per
// profile there instead, its groups named as in the cluster.
func writeRules(w io.Writer, objs []map[string]any, format, dir string) error {
	mimir := format == "mimir-rules"
	sets := RuleSets(objs)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, s := range sets {
			ns := ""
			if mimir {
				ns = s.MimirNamespace()
			}
			b, err := ruleFile(s.Groups, ns)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, s.FileName()), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if !mimir {
		b, err := ruleFile(QualifiedGroups(sets), "")
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	for _, s := range sets {
		b, err := ruleFile(s.Groups, s.MimirNamespace())
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}
