package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"sigs.k8s.io/yaml"
)

// Report is the verdict of one validate or render run; `validate -o json` prints it as it is. Lists are
// never null, so that a pipeline can read them without checking.
type Report struct {
	// Valid is true when every checked document is a valid profile and every file was read: the exit code
	// is 0 exactly then.
	Valid   bool    `json:"valid"`
	Summary Summary `json:"summary"`
	// Documents are the checked documents, in the order of the files and of the documents in them.
	Documents []DocumentResult `json:"documents"`
	// Skipped are the documents of other kinds that --skip-other-kinds left out.
	Skipped []DocumentID `json:"skipped"`
	// LoadErrors are the files, or documents of a file, that could not be read or parsed.
	LoadErrors []LoadErrorResult `json:"loadErrors"`
}

// Summary counts the documents of a Report.
type Summary struct {
	Profiles   int `json:"profiles"` // checked documents, valid or not
	Valid      int `json:"valid"`
	Invalid    int `json:"invalid"`
	Skipped    int `json:"skipped"`
	LoadErrors int `json:"loadErrors"`
}

// String is the summary line of the text output.
func (s Summary) String() string {
	var b strings.Builder
	if s.Invalid == 0 && s.LoadErrors == 0 {
		fmt.Fprintf(&b, "%d profile(s) valid", s.Valid)
	} else {
		fmt.Fprintf(&b, "%d of %d profile(s) invalid", s.Invalid, s.Profiles)
		if s.LoadErrors > 0 {
			fmt.Fprintf(&b, ", %d file(s) or document(s) not readable", s.LoadErrors)
		}
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, ", %d document(s) of other kinds skipped", s.Skipped)
	}
	return b.String()
}

// DocumentID names a document: where it is and what it says it is. The namespace is the one it would be
// created in ("default" when it names none, as kubectl apply does).
type DocumentID struct {
	Source     string `json:"source"` // file:document-number
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

// DocumentResult is the verdict on one checked document.
type DocumentResult struct {
	DocumentID
	Valid    bool      `json:"valid"`
	Errors   []Problem `json:"errors"`
	Warnings []string  `json:"warnings"`
}

// Problem is one reason a document is invalid. Field is the path of the field it is about ("" for the
// whole object), Type the API server's error type (such as "Invalid value"), and Message what the API
// server would say after the field.
type Problem struct {
	Field   string `json:"field"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// LoadErrorResult is a file, or one document of it, that could not be read or parsed.
type LoadErrorResult struct {
	Source   string `json:"source"`
	Document int    `json:"document,omitempty"` // 1-based; 0 when the whole file could not be read
	Message  string `json:"message"`
}

// LoadError is an error of LoadAll: the file, the document when the file was read but one of its
// documents did not parse, and why.
type LoadError struct {
	Source   string
	Document int
	Err      error
}

func (e *LoadError) Error() string {
	if e.Document > 0 {
		return fmt.Sprintf("%s: Document %d: %v", e.Source, e.Document, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Source, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// fileError names the file of an error of the file system once, not twice as *fs.PathError would.
func fileError(path string, err error) *LoadError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &LoadError{Source: pe.Path, Err: pe.Err}
	}
	return &LoadError{Source: path, Err: err}
}

func newReport(loadErrs []error) *Report {
	r := &Report{Documents: []DocumentResult{}, Skipped: []DocumentID{}, LoadErrors: []LoadErrorResult{}}
	for _, err := range loadErrs {
		le := &LoadError{Err: err}
		errors.As(err, &le)
		r.LoadErrors = append(r.LoadErrors, LoadErrorResult{Source: le.Source, Document: le.Document, Message: le.Err.Error()})
	}
	return r
}

func (r *Report) summarise() {
	s := Summary{Profiles: len(r.Documents), Skipped: len(r.Skipped), LoadErrors: len(r.LoadErrors)}
	for _, d := range r.Documents {
		if d.Valid {
			s.Valid++
		} else {
			s.Invalid++
		}
	}
	r.Summary = s
	r.Valid = s.Invalid == 0 && s.LoadErrors == 0
}

// print writes the load errors, warnings and errors for humans, one line each, naming the file and
// document, the object and the field.
func (r *Report) print(w io.Writer) {
	for _, e := range r.LoadErrors {
		le := LoadError{Source: e.Source, Document: e.Document, Err: errors.New(e.Message)}
		fmt.Fprintln(w, le.Error())
	}
	for _, d := range r.Documents {
		for _, warning := range d.Warnings {
			fmt.Fprintf(w, "%s: %s: Warning: %s\n", d.Source, d.describe(), warning)
		}
		for _, p := range d.Errors {
			fmt.Fprintf(w, "%s: %s: %s\n", d.Source, d.describe(), p)
		}
	}
}

func (id DocumentID) describe() string {
	kind := id.Kind
	if kind == "" {
		kind = "<no kind>"
	}
	return fmt.Sprintf("%s %s/%s", kind, id.Namespace, id.Name)
}

func writeReport(w io.Writer, r *Report, format string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
	} else {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}
