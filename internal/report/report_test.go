package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

var at = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func fleet() []v1alpha1.ReliabilityProfile {
	judged := func(ns, name string, results map[string]v1alpha1.ComplianceResult, summary string, exceptions ...v1alpha1.Exception) v1alpha1.ReliabilityProfile {
		rp := v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		rp.Spec.Service, rp.Spec.Tier, rp.Spec.Exceptions = name, v1alpha1.TierCritical, exceptions
		for _, rule := range []string{"D-6", "O-7", "R-4", "S-2"} {
			if r, ok := results[rule]; ok {
				rp.Status.Compliance = append(rp.Status.Compliance, v1alpha1.RuleVerdict{Rule: rule, Result: r, Message: rule + " said " + string(r)})
			}
		}
		rp.Status.ComplianceSummary = summary
		return rp
	}
	return []v1alpha1.ReliabilityProfile{
		judged("shop", "cart", map[string]v1alpha1.ComplianceResult{"D-6": "Pass", "O-7": "Pass", "R-4": "Waived", "S-2": "Pass"}, "4/4",
			v1alpha1.Exception{Rule: "R-4", Reason: "Runbook <in review>", Expires: "2026-12-31", ApprovedBy: "sre-lead"}),
		judged("shop", "checkout", map[string]v1alpha1.ComplianceResult{"D-6": "Fail", "O-7": "Fail", "R-4": "Pass", "S-2": "Unknown"}, "1/4"),
		judged("ads", "banner", map[string]v1alpha1.ComplianceResult{"D-6": "Pass", "O-7": "Fail", "R-4": "NotApplicable", "S-2": "Pass"}, "2/3"),
	}
}

func TestRowsComeWorstFirst(t *testing.T) {
	r := Build(fleet(), []string{"D-6", "O-7", "R-4", "S-2"}, "test", at)
	var order []string
	for _, row := range r.Rows {
		order = append(order, row.Namespace+"/"+row.Profile)
	}
	if got := strings.Join(order, " "); got != "shop/checkout ads/banner shop/cart" {
		t.Errorf("order %s, want the most failing rules first", got)
	}
	var out bytes.Buffer
	if err := r.Text(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop       checkout  critical  1/4        FAIL  FAIL  ok      ?", "shop/checkout D-6: D-6 said Fail",
		"shop/cart exception to R-4 until 2026-12-31, approved by sre-lead: Runbook <in review>"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

// cells reads the verdict table of the page: profile → rule → result, as the DOM has it.
func cells(t *testing.T, doc *html.Node) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	var walk func(n *html.Node, profile string)
	walk = func(n *html.Node, profile string) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			profile = attr(n, "data-profile")
		}
		if n.Type == html.ElementNode && n.Data == "td" && attr(n, "data-rule") != "" && profile != "" {
			if out[profile] == nil {
				out[profile] = map[string]string{}
			}
			out[profile][attr(n, "data-rule")] = strings.TrimPrefix(attr(n, "class"), "verdict ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, profile)
		}
	}
	walk(doc, "")
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestTheHTMLPageShowsEveryVerdictAndEscapesWhatTeamsWrote(t *testing.T) {
	var page bytes.Buffer
	if err := Build(fleet(), []string{"D-6", "O-7", "R-4", "S-2"}, "test", at).HTML(&page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "<in review>") || strings.Contains(page.String(), "<script") || strings.Contains(page.String(), "http") {
		t.Errorf("the page carries unescaped input, a script or an external reference")
	}
	doc, err := html.Parse(&page)
	if err != nil {
		t.Fatal(err)
	}
	got := cells(t, doc)
	want := map[string]map[string]string{
		"shop/checkout": {"D-6": "Fail", "O-7": "Fail", "R-4": "Pass", "S-2": "Unknown"},
		"ads/banner":    {"D-6": "Pass", "O-7": "Fail", "R-4": "NotApplicable", "S-2": "Pass"},
		"shop/cart":     {"D-6": "Pass", "O-7": "Pass", "R-4": "Waived", "S-2": "Pass"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdict cells %v, want %v", got, want)
	}
}

// chromium is Debian's headless browser (apt install chromium; .ci/run installs it), or $CHROMIUM.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium to render the page: apt-get install chromium, or set CHROMIUM (.ci/run installs it)")
	}
	return p
}

// TestTheHTMLPageRendersInABrowser opens the page in headless Chromium, as a person would: the DOM Chromium
// builds has every verdict cell, and the screenshot shows the verdict colours, red of a failing rule first.
func TestTheHTMLPageRendersInABrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	var page bytes.Buffer
	if err := Build(fleet(), []string{"D-6", "O-7", "R-4", "S-2"}, "test", at).HTML(&page); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}
	dom, err := exec.Command(browser, append(base, "--dump-dom", "file://"+file)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, doc); len(got) != 3 || got["shop/checkout"]["D-6"] != "Fail" || got["shop/cart"]["R-4"] != "Waived" {
		t.Errorf("the browser's DOM has the cells %v", got)
	}
	shot := filepath.Join(dir, "report.png")
	if out, err := exec.Command(browser, append(base, "--screenshot="+shot, "--window-size=1100,700", "file://"+file)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Where each colour first fills a cell (a run of 30 pixels: the legend's squares are 12), top to bottom:
	// the worst service's row is the first under the header, so the red of its failing rules comes before the
	// orange of the waived rule in the last row.
	first := map[string]int{}
	colours := map[string][3]uint32{"Fail": {0xd7, 0x30, 0x27}, "Pass": {0x1a, 0x98, 0x50}, "Waived": {0xfd, 0xae, 0x61}, "Unknown": {0xfe, 0xe0, 0x8b}}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		run, runColour := 0, ""
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			colour := ""
			for name, c := range colours {
				if near(r>>8, c[0]) && near(g>>8, c[1]) && near(bl>>8, c[2]) {
					colour = name
				}
			}
			if colour != "" && colour == runColour {
				run++
			} else {
				run, runColour = 1, colour
			}
			if _, seen := first[colour]; colour != "" && !seen && run >= 30 {
				first[colour] = y
			}
		}
	}
	for name := range colours {
		if _, ok := first[name]; !ok {
			t.Errorf("the screenshot shows no %s colour", name)
		}
	}
	if first["Fail"] >= first["Waived"] {
		t.Errorf("red first at y=%d, orange at y=%d: the worst service is not on top", first["Fail"], first["Waived"])
	}
}

func near(v, want uint32) bool { return v+6 >= want && v <= want+6 }
