package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/events"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// Reasons of the Provisioned condition.
const (
	reasonGranted      = "Granted"
	reasonGrantRemoved = v1alpha1.ReasonGrantRemoved
	reasonGrantFailed  = "GrantFailed"
)

func (c *Controller) sync(ctx context.Context, name string) error {
	ar, err := c.requests.Get(name)
	if apierrors.IsNotFound(err) {
		c.provisioned.forget(name)
		return nil
	}
	if err != nil {
		return err
	}
	now := c.clock.Now()
	if ar.DeletionTimestamp != nil {
		return c.syncDeleted(ctx, ar, now)
	}
	switch ar.Status.Phase {
	case v1alpha1.AccessRequestPending:
		return c.syncPending(ctx, ar, now)
	case v1alpha1.AccessRequestApproved:
		return c.activate(ctx, ar, now)
	case v1alpha1.AccessRequestActive:
		return c.syncActive(ctx, ar, now)
	default:
		return c.syncFinished(ctx, ar, now)
	}
}

// syncPending denies a request nobody decided on in time.
func (c *Controller) syncPending(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	if c.opts.PendingTimeout <= 0 {
		return nil
	}
	deadline := ar.CreationTimestamp.Add(c.opts.PendingTimeout)
	if now.Before(deadline) {
		c.queue.AddAfter(ar.Name, deadline.Sub(now))
		return nil
	}
	reason := fmt.Sprintf("no decision within %s", c.opts.PendingTimeout)
	ar, err := endByDecision(ar, janus.AccessRequestDenied, janus.Decision{User: "janus", Time: metav1.NewTime(now), Reason: reason}, "PendingTimeout")
	if err != nil {
		return err
	}
	if err := c.updateStatus(ctx, ar); err != nil {
		return err
	}
	c.recorder.Event(events.Ref(ar), corev1.EventTypeNormal, "PendingTimeout", "Denied: "+reason)
	return nil
}

// activate provisions the grant of an approved request and starts its clock.
func (c *Controller) activate(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	agent, err := c.agents.Agent(ar.Spec.Cluster)
	if errors.Is(err, tunnelserver.ErrNotConnected) {
		// Re-queued when the agent connects.
		return c.setMessage(ctx, ar, fmt.Sprintf("approved; waiting for the agent of cluster %s to connect", ar.Spec.Cluster))
	}
	if err != nil {
		return err
	}
	granted := ar.Spec.Duration.Duration
	if d := ar.Status.GrantedDuration; d != nil {
		granted = d.Duration
	}
	klog.V(2).InfoS("Provisioning", "request", ar.Name, "cluster", ar.Spec.Cluster)
	now = now.Truncate(time.Second) // the API keeps seconds; the timer must match what is stored
	expires := now.Add(granted)
	began := c.clock.Now()
	status, err := agent.EnsureGrant(ctx, tunnel.GrantSpec{
		Request:    ar.Name,
		Requester:  ar.Spec.Requester.Username,
		Namespaces: ar.Spec.Namespaces,
		ExpiresAt:  expires,
	})
	provisioned := c.clock.Since(began)
	observeProvisioning(provisioned, err)
	var agentErr *tunnelserver.AgentError
	if errors.As(err, &agentErr) {
		// The agent rolled back what it had created; tell the requester why.
		return c.fail(ctx, ar, fmt.Sprintf("granting access in cluster %s failed: %s", ar.Spec.Cluster, agentErr.Message), now)
	}
	if err != nil {
		return fmt.Errorf("provisioning grant for %s: %w", ar.Name, err)
	}

	active := ar.DeepCopy()
	active.Status.Phase = v1alpha1.AccessRequestActive
	active.Status.ActivatedAt = &metav1.Time{Time: now}
	active.Status.ExpiresAt = &metav1.Time{Time: expires}
	active.Status.Grants = apiGrants(status.Grants)
	active.Status.Message = fmt.Sprintf("active in cluster %s until %s", ar.Spec.Cluster, expires.UTC().Format(time.RFC3339))
	msg := fmt.Sprintf("granted in cluster %s, namespaces %s, until %s", ar.Spec.Cluster, strings.Join(ar.Spec.Namespaces, ","), expires.UTC().Format(time.RFC3339))
	setCondition(active, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, reasonGranted, msg, now)
	began = c.clock.Now()
	err = c.updateStatus(ctx, active)
	klog.V(4).InfoS("Activation timing", "request", ar.Name, "provisioning", provisioned, "statusWrite", c.clock.Since(began))
	if err != nil {
		// The request changed while the grant was made. Take the grant
		// back if the request no longer wants it (revoked, withdrawn,
		// gone); the next sync decides on the new state.
		if !c.wantsGrant(ctx, ar.Name) {
			if rmErr := agent.RemoveGrant(ctx, ar.Name); rmErr != nil {
				klog.ErrorS(rmErr, "Taking back a grant whose request changed", "request", ar.Name)
			}
		}
		return err
	}
	c.provisioned.set(ar.Name, expires)
	c.recorder.Event(events.Ref(active), corev1.EventTypeNormal, "Provisioned", "Access "+msg)
	klog.InfoS("Granted", "request", ar.Name, "cluster", ar.Spec.Cluster, "expiresAt", expires)
	c.queue.AddAfter(ar.Name, expires.Sub(c.clock.Now()))
	return nil
}

// wantsGrant reads the request afresh and says whether it may hold a
// grant. The copy activate worked on can be stale — the informer lags
// after a restart, or a session was just recorded — while the request is
// Active already, with the grant and sessions its users rely on: taking
// the grant back then would cut them. When the request cannot be read,
// the next sync decides.
func (c *Controller) wantsGrant(ctx context.Context, name string) bool {
	latest, err := c.client.JanusV1alpha1().AccessRequests().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		return true
	}
	if latest.DeletionTimestamp != nil {
		return false
	}
	switch latest.Status.Phase {
	case v1alpha1.AccessRequestApproved, v1alpha1.AccessRequestActive:
		return true
	}
	return false
}

// syncActive keeps the grant in step with expiresAt and ends it on time.
func (c *Controller) syncActive(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	expires := ar.Status.ExpiresAt.Time
	if !now.Before(expires) {
		return c.expire(ctx, ar, now)
	}
	if last, ok := c.provisioned.get(ar.Name); !ok || !last.Equal(expires) {
		// Extended, or first sight since a restart: (re-)mint the token.
		if agent, err := c.agents.Agent(ar.Spec.Cluster); err == nil {
			if _, err := agent.EnsureGrant(ctx, tunnel.GrantSpec{Request: ar.Name, Requester: ar.Spec.Requester.Username, Namespaces: ar.Spec.Namespaces, ExpiresAt: expires}); err != nil {
				return fmt.Errorf("refreshing grant for %s: %w", ar.Name, err)
			}
			c.provisioned.set(ar.Name, expires)
		}
	}
	c.queue.AddAfter(ar.Name, expires.Sub(now))
	return nil
}

// expire ends an active request at its expiry: the grant goes first, then
// the request is marked Expired. An offline agent loses the grant when it
// reconnects; the request expires centrally on time regardless.
func (c *Controller) expire(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	removed := c.removeGrant(ctx, ar)
	ar = ar.DeepCopy()
	ar.Status.Phase = v1alpha1.AccessRequestExpired
	ar.Status.Message = fmt.Sprintf("expired at %s", ar.Status.ExpiresAt.UTC().Format(time.RFC3339))
	setCondition(ar, v1alpha1.ConditionExpired, metav1.ConditionTrue, "Expired", ar.Status.Message, now)
	if removed {
		setCondition(ar, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, reasonGrantRemoved, "grant removed from cluster "+ar.Spec.Cluster, now)
	}
	if err := c.updateStatus(ctx, ar); err != nil {
		return err
	}
	c.recorder.Event(events.Ref(ar), corev1.EventTypeNormal, "Expired", "Access "+ar.Status.Message)
	klog.InfoS("Expired", "request", ar.Name, "grantRemoved", removed)
	return nil
}

// syncFinished removes the grant of a finished request and, after the
// retention, the request itself. A request whose grant is not confirmed
// removed stays: the removal is retried while the agent is connected, and
// when it connects again; the retention counts from the confirmation.
func (c *Controller) syncFinished(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	if grantMayExist(ar) {
		return c.removeFinishedGrant(ctx, ar, now)
	}
	c.provisioned.forget(ar.Name)
	if c.opts.Retention <= 0 {
		return nil
	}
	deleteAt := finishedAt(ar).Add(c.opts.Retention)
	if now.Before(deleteAt) {
		c.queue.AddAfter(ar.Name, deleteAt.Sub(now))
		return nil
	}
	uid := ar.UID
	err := c.client.JanusV1alpha1().AccessRequests().Delete(ctx, ar.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s after retention: %w", ar.Name, err)
	}
	klog.InfoS("Deleted after retention", "request", ar.Name, "retention", c.opts.Retention)
	return nil
}

// removeFinishedGrant removes the grant of a finished request and records
// that in the Provisioned condition. Without its agent the request waits:
// AgentConnected queues it again, and the Cluster's deletion does too.
func (c *Controller) removeFinishedGrant(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	began := c.clock.Now()
	reason, err := c.confirmGrantRemoval(ctx, ar)
	removal := c.clock.Since(began)
	if errors.Is(err, tunnelserver.ErrNotConnected) {
		klog.V(2).InfoS("Finished request waits for its agent to remove the grant", "request", ar.Name, "cluster", ar.Spec.Cluster)
		return nil
	}
	if err != nil {
		return err
	}
	done := ar.DeepCopy()
	msg := "grant removed from cluster " + ar.Spec.Cluster
	eventType, event := corev1.EventTypeNormal, fmt.Sprintf("Grant removed from cluster %s (request %s)", ar.Spec.Cluster, strings.ToLower(string(ar.Status.Phase)))
	if reason == v1alpha1.ReasonClusterUnregistered {
		msg = clusterUnregisteredMessage(ar.Spec.Cluster)
		eventType, event = corev1.EventTypeWarning, "Grant not removed: "+msg
	}
	setCondition(done, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, reason, msg, now)
	began = c.clock.Now()
	err = c.updateStatus(ctx, done)
	klog.V(4).InfoS("Removal timing", "request", ar.Name, "removal", removal, "statusWrite", c.clock.Since(began))
	if err != nil {
		return err
	}
	c.recorder.Event(events.Ref(done), eventType, reason, event)
	return nil
}

// confirmGrantRemoval has the agent remove ar's grant, which cuts its
// sessions too, and says with which reason the Provisioned condition
// records that. An agent that is not connected is an error
// (tunnelserver.ErrNotConnected) unless its Cluster is gone: then no tunnel can
// carry the grant's sessions, and the agent, should it ever connect
// again, removes the grant as it reconciles (ReasonClusterUnregistered).
func (c *Controller) confirmGrantRemoval(ctx context.Context, ar *v1alpha1.AccessRequest) (reason string, err error) {
	agent, err := c.agents.Agent(ar.Spec.Cluster)
	if errors.Is(err, tunnelserver.ErrNotConnected) {
		_, getErr := c.client.JanusV1alpha1().Clusters().Get(ctx, ar.Spec.Cluster, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(getErr):
			c.provisioned.forget(ar.Name)
			return v1alpha1.ReasonClusterUnregistered, nil
		case getErr != nil:
			return "", fmt.Errorf("reading cluster %s of request %s: %w", ar.Spec.Cluster, ar.Name, getErr)
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	if err := agent.RemoveGrant(ctx, ar.Name); err != nil {
		return "", fmt.Errorf("removing the grant of %s from cluster %s: %w", ar.Name, ar.Spec.Cluster, err)
	}
	c.provisioned.forget(ar.Name)
	return reasonGrantRemoved, nil
}

func clusterUnregisteredMessage(cluster string) string {
	return fmt.Sprintf("cluster %s is no longer registered; its agent removes the grant if it ever connects again", cluster)
}

// grantMayExist is true for a request that was approved and whose grant has
// not been confirmed removed.
func grantMayExist(ar *v1alpha1.AccessRequest) bool {
	return validation.GrantMayExist(ar.Status.Conditions)
}

// removeGrant asks the agent to remove the grant; false when it could not
// confirm (offline agent: reconciliation on reconnect removes it).
func (c *Controller) removeGrant(ctx context.Context, ar *v1alpha1.AccessRequest) bool {
	agent, err := c.agents.Agent(ar.Spec.Cluster)
	if err != nil {
		return false
	}
	if err := agent.RemoveGrant(ctx, ar.Name); err != nil {
		klog.ErrorS(err, "Removing grant", "request", ar.Name, "cluster", ar.Spec.Cluster)
		return false
	}
	c.provisioned.forget(ar.Name)
	return true
}

func (c *Controller) fail(ctx context.Context, ar *v1alpha1.AccessRequest, msg string, now time.Time) error {
	ar = ar.DeepCopy()
	ar.Status.Phase = v1alpha1.AccessRequestFailed
	ar.Status.Message = msg
	setCondition(ar, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, reasonGrantFailed, msg, now)
	if err := c.updateStatus(ctx, ar); err != nil {
		return err
	}
	c.recorder.Event(events.Ref(ar), corev1.EventTypeWarning, reasonGrantFailed, msg)
	klog.InfoS("Grant failed", "request", ar.Name, "message", msg)
	return nil
}

func (c *Controller) setMessage(ctx context.Context, ar *v1alpha1.AccessRequest, msg string) error {
	if ar.Status.Message == msg {
		return nil
	}
	ar = ar.DeepCopy()
	ar.Status.Message = msg
	return c.updateStatus(ctx, ar)
}

// updateStatus writes ar's status with optimistic concurrency. A conflict is
// not an error: the informer delivers the newer object and it is synced anew.
func (c *Controller) updateStatus(ctx context.Context, ar *v1alpha1.AccessRequest) error {
	_, err := c.writeStatus(ctx, ar)
	return err
}

// writeStatus is updateStatus returning the request as written.
func (c *Controller) writeStatus(ctx context.Context, ar *v1alpha1.AccessRequest) (*v1alpha1.AccessRequest, error) {
	written, err := c.client.JanusV1alpha1().AccessRequests().UpdateStatus(ctx, ar, metav1.UpdateOptions{FieldManager: "janus-lifecycle"})
	if apierrors.IsConflict(err) {
		return nil, errConflict
	}
	if err != nil {
		return nil, fmt.Errorf("updating status of %s: %w", ar.Name, err)
	}
	return written, nil
}

var errConflict = errors.New("the request changed meanwhile; it is synced again")

func setCondition(ar *v1alpha1.AccessRequest, condType string, status metav1.ConditionStatus, reason, msg string, now time.Time) {
	meta.SetStatusCondition(&ar.Status.Conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: ar.Generation, LastTransitionTime: metav1.NewTime(now),
	})
}

// endByDecision ends a copy of ar as somebody decided, through the one
// function the decision subresources use too.
func endByDecision(ar *v1alpha1.AccessRequest, phase janus.AccessRequestPhase, d janus.Decision, conditionReason string) (*v1alpha1.AccessRequest, error) {
	var internal janus.AccessRequest
	if err := v1alpha1.Convert_v1alpha1_AccessRequest_To_janus_AccessRequest(ar, &internal, nil); err != nil {
		return nil, fmt.Errorf("converting request %s: %w", ar.Name, err)
	}
	if err := janus.EndByDecision(&internal, phase, d, conditionReason); err != nil {
		return nil, fmt.Errorf("ending request %s: %w", ar.Name, err)
	}
	ended := &v1alpha1.AccessRequest{}
	if err := v1alpha1.Convert_janus_AccessRequest_To_v1alpha1_AccessRequest(&internal, ended, nil); err != nil {
		return nil, fmt.Errorf("converting request %s: %w", ar.Name, err)
	}
	ended.TypeMeta = ar.TypeMeta
	return ended, nil
}

// finishedAt is when the request reached its final phase.
func finishedAt(ar *v1alpha1.AccessRequest) time.Time {
	latest := ar.CreationTimestamp.Time
	for _, cond := range ar.Status.Conditions {
		if cond.LastTransitionTime.After(latest) {
			latest = cond.LastTransitionTime.Time
		}
	}
	return latest
}

// apiGrants is the status.grants form of what the agent reports it made.
func apiGrants(grants []tunnel.Grant) []v1alpha1.Grant {
	if grants == nil {
		return nil
	}
	out := make([]v1alpha1.Grant, 0, len(grants))
	for _, g := range grants {
		out = append(out, v1alpha1.Grant{Namespace: g.Namespace, ServiceAccount: g.ServiceAccount, Role: g.Role, RoleBinding: g.RoleBinding})
	}
	return out
}
