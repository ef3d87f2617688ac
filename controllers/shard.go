package controllers

// ShardFilter says which namespaces' profiles this replica reconciles now (internal/shard.Set, with
// --shards N > 1). Holds is called at the top of every reconcile and again before its writes, so it must
// be cheap.
type ShardFilter interface {
	Holds(namespace string) bool
}

// reconcilesNamespace tells whether the profiles of the namespace are this replica's to reconcile: always
// without sharding. Requests of other shards are dropped here rather than by predicates on the watches:
// many events carry no shard of their own (a Velero Schedule lives in Velero's namespace, a Node and the
// ReliabilityPolicy in none) and only their mapped requests name the profile's namespace.
func (r *ReliabilityProfileReconciler) reconcilesNamespace(namespace string) bool {
	return r.Shards == nil || r.Shards.Holds(namespace)
}
