// Package apply is the only code that writes a profile's children.
//
// It reads each child (from the cache, and past it when the cache has no such object), refuses to touch an
// object it does not own, compares the live object with the desired one on the fields the operator sets,
// and only then writes, with server-side apply under one field owner. A child that does not exist yet is
// made by a plain create, which fails rather than take an object someone created after the read. A child
// that already matches costs no write. It also deletes children the profile no longer renders. It knows
// nothing about conditions or events: it returns one Result per child and the controller turns those into
// status.
package apply
