// Package shard splits the operator's work between replicas: a profile belongs to the shard of its
// namespace (Of), and a replica reconciles the profiles of the shards whose Lease it holds (Set).
//
// It knows Leases and namespaces, not profiles: the controller asks Holds(namespace), and the operator
// package turns an acquired shard into reconciles (internal/operator/shard.go). It writes nothing but its
// Leases.
package shard
