package v1alpha1

import "maps"

// DeepCopyInto copies the receiver into out. in must be non-nil. Written by hand: see Routing.
func (in *Routing) DeepCopyInto(out *Routing) {
	*out = *in
	out.Labels = maps.Clone(in.Labels)
	out.Annotations = maps.Clone(in.Annotations)
}

// DeepCopy copies the receiver into a new Routing.
func (in *Routing) DeepCopy() *Routing {
	if in == nil {
		return nil
	}
	out := new(Routing)
	in.DeepCopyInto(out)
	return out
}
