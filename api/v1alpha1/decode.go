package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// A profile stored under an older, looser CRD can hold a value this build cannot read, such as
// spec.disruption.maxUnavailable: 99999999999, which does not fit the int32 of an int-or-string. Decoded as
// usual, one such profile fails the whole list and every watch event of the operator's cache: no profile gets
// a status, and the cache never syncs. So a profile decodes on its own: when its spec or status cannot be
// read, it keeps its identity (type and metadata) and records why, and every reader leaves it alone.

// UndecodableReason (condition and Event): the stored profile holds a value the operator cannot read,
// accepted under an older, looser CRD. The operator renders, prunes and changes nothing for it, and keeps its
// children, until it is re-applied under the current CRD.
const UndecodableReason = "Undecodable"

// DecodeError says which part of a stored profile could not be read.
//
// +kubebuilder:object:generate=false
type DecodeError struct {
	// Field is the path of the first value that could not be read, such as spec.disruption.maxUnavailable;
	// "spec" or "status" when the decoder names no field.
	Field string
	// Problem says what is wrong with the value, such as "the stored number 99999999999 cannot be read as int32".
	Problem string
	// Service is spec.service as stored, when it could be read on its own: what the profile holds under its
	// service's name (its log retention, its claim on the service) is kept, not taken as gone.
	Service string
}

func (e *DecodeError) Error() string { return e.Field + ": " + e.Problem }

// InSpec says that the unreadable value is in the spec, which the profile's author writes; the status is
// the operator's own.
func (e *DecodeError) InSpec() bool { return e.Field == "spec" || strings.HasPrefix(e.Field, "spec.") }

// DecodeError is why the stored profile could not be read (a *DecodeError), or nil when it could. A profile
// with a decode error has an empty spec (and an empty status when that was the unreadable part): it must not
// be rendered, and it must not be taken for a profile that declares nothing.
func (rp *ReliabilityProfile) DecodeError() error {
	if rp.decodeError.Field == "" {
		return nil
	}
	e := rp.decodeError
	return &e
}

// profileFields is ReliabilityProfile without its methods, to decode it the usual way without recursion.
type profileFields ReliabilityProfile

// UnmarshalJSON decodes like the API machinery (case-sensitive field names, integers kept as integers), and
// when the spec or status holds a value that cannot be read, keeps the type and metadata and records the
// error instead of failing: see DecodeError. JSON that is not an object, or metadata that cannot be read,
// still fail.
func (rp *ReliabilityProfile) UnmarshalJSON(data []byte) error {
	err := kjson.UnmarshalCaseSensitivePreserveInts(data, (*profileFields)(rp))
	if err == nil {
		rp.decodeError = DecodeError{}
		return nil
	}
	var identity struct {
		metav1.TypeMeta `json:",inline"`
		ObjectMeta      metav1.ObjectMeta `json:"metadata,omitempty"`
	}
	if kjson.UnmarshalCaseSensitivePreserveInts(data, &identity) != nil {
		return err
	}
	// Each part is decoded afresh: the failed decode above may have written some of it.
	*rp = ReliabilityProfile{TypeMeta: identity.TypeMeta, ObjectMeta: identity.ObjectMeta}
	var spec struct {
		Spec ReliabilityProfileSpec `json:"spec"`
	}
	specErr := kjson.UnmarshalCaseSensitivePreserveInts(data, &spec)
	if specErr == nil {
		rp.Spec = spec.Spec
	}
	var status struct {
		Status ReliabilityProfileStatus `json:"status"`
	}
	statusErr := kjson.UnmarshalCaseSensitivePreserveInts(data, &status)
	if statusErr == nil {
		rp.Status = status.Status
	}
	switch {
	case specErr != nil:
		rp.decodeError = describeDecodeError("spec", specErr)
	case statusErr != nil:
		rp.decodeError = describeDecodeError("status", statusErr)
	default:
		return err // not a problem of one part: fail as a plain decoder would
	}
	var service struct {
		Spec struct {
			Service string `json:"service"`
		} `json:"spec"`
	}
	if kjson.UnmarshalCaseSensitivePreserveInts(data, &service) == nil {
		rp.decodeError.Service = service.Spec.Service
	}
	return nil
}

// describeDecodeError names the field of a decoding error of one part of the profile, decoded as the only
// field of a struct: the decoder's field path then starts with the part's name.
func describeDecodeError(part string, err error) DecodeError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := part
		if typeErr.Field != "" {
			field = typeErr.Field
		}
		return DecodeError{Field: field, Problem: fmt.Sprintf("the stored %s cannot be read as %s", typeErr.Value, typeErr.Type)}
	}
	return DecodeError{Field: part, Problem: err.Error()}
}
