package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/events"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// reasonDeleted is the reason of the Revoked condition and of the Event of
// a request that was deleted.
const reasonDeleted = "Deleted"

// syncDeleted revokes a deleted request before it goes. While it may hold
// a grant, the agent removes the grant and cuts its sessions, the request
// is marked, and an Event says who deleted it; only then does the grant
// finalizer go, which lets the API server delete the object. Without its
// agent the finalizer stays, and the request is synced again when the
// agent connects. A request that holds no grant goes at once. Deletions
// after the retention come this way too.
func (c *Controller) syncDeleted(ctx context.Context, ar *v1alpha1.AccessRequest, now time.Time) error {
	if !slices.Contains(ar.Finalizers, v1alpha1.GrantFinalizer) {
		return nil
	}
	if grantMayExist(ar) {
		reason, err := c.confirmGrantRemoval(ctx, ar)
		if errors.Is(err, tunnelserver.ErrNotConnected) {
			return c.setMessage(ctx, ar, fmt.Sprintf("deleted; waiting for the agent of cluster %s to remove the grant", ar.Spec.Cluster))
		}
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("grant removed from cluster %s and its sessions cut", ar.Spec.Cluster)
		if reason == v1alpha1.ReasonClusterUnregistered {
			msg = clusterUnregisteredMessage(ar.Spec.Cluster)
		}
		if ar, err = c.markDeleted(ctx, ar, reason, msg, now); err != nil {
			if apierrors.IsNotFound(err) {
				return nil // a stale copy of a request that went meanwhile
			}
			return err
		}
	} else if !isFinished(ar) {
		c.recorder.Event(events.Ref(ar), corev1.EventTypeNormal, reasonDeleted, "Deleted"+deletedBy(ar)+" before it was granted")
	}
	return c.dropGrantFinalizer(ctx, ar)
}

// markDeleted records that the deleted request holds no grant any more; a
// request that still gave access is Revoked, with the deletion as its
// decision. It returns the request as written.
func (c *Controller) markDeleted(ctx context.Context, ar *v1alpha1.AccessRequest, reason, msg string, now time.Time) (*v1alpha1.AccessRequest, error) {
	ar = ar.DeepCopy()
	by := deletedBy(ar)
	if !isFinished(ar) {
		// The registry recorded the deleter as the decision at delete time.
		decision := janus.Decision{Time: *ar.DeletionTimestamp, Reason: janus.DecisionReasonDeleted}
		if d := ar.Status.Decision; d != nil && d.Reason == v1alpha1.DecisionReasonDeleted {
			decision = janus.Decision{User: d.User, UID: d.UID, Time: d.Time, Reason: d.Reason}
		}
		var err error
		if ar, err = endByDecision(ar, janus.AccessRequestRevoked, decision, reasonDeleted); err != nil {
			return nil, err
		}
	}
	setCondition(ar, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, reason, msg, now)
	written, err := c.writeStatus(ctx, ar)
	if err != nil {
		return nil, err
	}
	eventType := corev1.EventTypeNormal
	if reason != reasonGrantRemoved {
		eventType = corev1.EventTypeWarning
	}
	c.recorder.Event(events.Ref(written), eventType, reasonDeleted, "Deleted"+by+": "+msg)
	klog.InfoS("Revoked a deleted request", "request", ar.Name, "deletedBy", strings.TrimPrefix(by, " by "), "reason", reason)
	return written, nil
}

// dropGrantFinalizer lets the API server delete the request.
func (c *Controller) dropGrantFinalizer(ctx context.Context, ar *v1alpha1.AccessRequest) error {
	ar = ar.DeepCopy()
	ar.Finalizers = slices.DeleteFunc(ar.Finalizers, func(f string) bool { return f == v1alpha1.GrantFinalizer })
	_, err := c.writeStatus(ctx, ar)
	switch {
	case apierrors.IsNotFound(err):
		return nil // gone already
	case err != nil:
		return err
	}
	c.provisioned.forget(ar.Name)
	klog.InfoS("Deleted", "request", ar.Name, "phase", ar.Status.Phase)
	return nil
}

// deletedBy is " by USER" when the registry recorded who deleted ar.
func deletedBy(ar *v1alpha1.AccessRequest) string {
	if d := ar.Status.Decision; d != nil && d.Reason == v1alpha1.DecisionReasonDeleted && d.User != "" {
		return " by " + d.User
	}
	return ""
}

// isFinished reports whether ar reached a final phase.
func isFinished(ar *v1alpha1.AccessRequest) bool {
	return validation.IsTerminal(janus.AccessRequestPhase(ar.Status.Phase))
}
