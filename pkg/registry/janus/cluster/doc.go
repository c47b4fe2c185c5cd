// Package cluster is the REST storage of Cluster objects: the registry of
// target clusters and their access policy. Agents report through the status
// subresource, and agent trust (spec.agent) changes only through the agent
// subresource, its own RBAC permission; nothing here talks to a target
// cluster.
package cluster
