package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/rest"
)

// printProfileTable prints what `kubectl get rprof` prints: the API server's own table of the profiles,
// built from the CRD's printer columns (so the demo shows the columns users see, not a copy of them), with
// the `-o wide` columns when wide. An empty name lists the namespace's profiles; an empty namespace, all.
func printProfileTable(ctx context.Context, cfg *rest.Config, namespace, name string, wide bool) error {
	path := "/apis/reliability.dev/v1alpha1/reliabilityprofiles"
	if namespace != "" {
		path = "/apis/reliability.dev/v1alpha1/namespaces/" + url.PathEscape(namespace) + "/reliabilityprofiles"
	}
	query := url.Values{}
	if name != "" {
		query.Set("fieldSelector", "metadata.name="+name)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+path+"?"+query.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s as a Table: %s: %s", path, resp.Status, body)
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(body, table); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	var header []string
	if namespace == "" {
		header = append(header, "NAMESPACE")
	}
	for _, col := range table.ColumnDefinitions {
		if col.Priority == 0 || wide {
			header = append(header, strings.ToUpper(col.Name))
		}
	}
	fmt.Fprintln(w, "  "+strings.Join(header, "\t"))
	for _, row := range table.Rows {
		var cells []string
		if namespace == "" {
			cells = append(cells, rowNamespace(row))
		}
		for i, col := range table.ColumnDefinitions {
			if col.Priority != 0 && !wide {
				continue
			}
			cells = append(cells, cell(row.Cells[i], col))
		}
		fmt.Fprintln(w, "  "+strings.Join(cells, "\t"))
	}
	return w.Flush()
}

// cell formats a table cell as kubectl does: dates as an age, a missing value as <none>.
func cell(v any, col metav1.TableColumnDefinition) string {
	if v == nil || v == "" {
		return "<none>"
	}
	if s, ok := v.(string); ok && col.Type == "date" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return duration.HumanDuration(time.Since(t))
		}
	}
	return fmt.Sprint(v)
}

func rowNamespace(row metav1.TableRow) string {
	var m struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(row.Object.Raw, &m)
	return m.Metadata.Namespace
}
