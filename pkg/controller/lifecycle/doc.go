// Package lifecycle is the controller that turns decisions into access and
// takes it away again: Approved → grant in the target cluster → Active;
// Active → Expired at expiresAt; revoked, withdrawn and expired requests lose
// their grant at once; pending requests time out; finished requests are
// deleted after the retention, never before their grant is confirmed
// removed; a deleted request loses its grant and its sessions before its
// finalizer lets it go. It is event-driven — informer events and per-request
// timers on a delaying work queue, re-armed from storage after a restart —
// and never polls. It acts only while it leads (Run, under the Lease when
// there are several replicas): a replica that does not lead only notes the
// agents that connect, here or at a peer, and reconciles them once it
// leads. It decides nothing about who may do what: that happened in the
// registry.
package lifecycle
