package accessrequest

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/infroware/janus/pkg/apis/janus"
)

// The lifecycle as the storage writes it: every phase change is a status
// write through this package, so counting them here counts each exactly
// once, on the replica that committed it, whoever asked for it (a
// decision, the controller, a deletion).
var (
	phaseTransitions = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "accessrequest",
		Name:           "phase_transitions_total",
		Help:           "AccessRequest phase changes committed by this replica, by the phase left and the phase reached.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"from", "to"})
	activationDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "janus",
		Subsystem: "accessrequest",
		Name:      "activation_duration_seconds",
		Help: "Time from the approval that made a request Approved to its write as Active (the grant live in the target cluster). " +
			"Measured to the microsecond when this replica committed both, else from the Approved condition's time (whole seconds).",
		Buckets:        metrics.ExponentialBuckets(0.005, 2, 12),
		StabilityLevel: metrics.ALPHA,
	})
	expiryLateness = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "janus",
		Subsystem: "accessrequest",
		Name:      "expiry_lateness_seconds",
		Help:      "Time from a request's status.expiresAt to its write as Expired, which follows the grant's removal from the target cluster.",
		Buckets:   []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},

		StabilityLevel: metrics.ALPHA,
	})
)

func init() {
	legacyregistry.MustRegister(phaseTransitions, activationDuration, expiryLateness)
}

// approvals remembers when this replica wrote each request Approved, so
// that its activation is timed from the approval itself rather than the
// Approved condition's whole second.
var approvals = approvalTimes{at: map[types.UID]time.Time{}}

// maxRememberedApprovals bounds approvals: requests activated by another
// replica never come back to take their entry out.
const maxRememberedApprovals = 10000

type approvalTimes struct {
	mu sync.Mutex
	at map[types.UID]time.Time
}

func (a *approvalTimes) remember(uid types.UID, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.at) >= maxRememberedApprovals {
		for k, t := range a.at {
			if at.Sub(t) > time.Hour {
				delete(a.at, k)
			}
		}
	}
	if len(a.at) < maxRememberedApprovals {
		a.at[uid] = at
	}
}

func (a *approvalTimes) take(uid types.UID) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.at[uid]
	delete(a.at, uid)
	return at, ok
}

// observeWrite counts the phase change from old to written, committed at now.
func observeWrite(old, written *janus.AccessRequest, now time.Time) {
	from, to := old.Status.Phase, written.Status.Phase
	if from == to {
		return
	}
	phaseTransitions.WithLabelValues(string(from), string(to)).Inc()
	approvedAt, remembered := approvals.take(written.UID)
	switch to {
	case janus.AccessRequestApproved:
		approvals.remember(written.UID, now)
	case janus.AccessRequestActive:
		if !remembered {
			cond := meta.FindStatusCondition(written.Status.Conditions, janus.ConditionApproved)
			if cond == nil || cond.Status != metav1.ConditionTrue {
				return
			}
			approvedAt = cond.LastTransitionTime.Time
		}
		activationDuration.Observe(now.Sub(approvedAt).Seconds())
	case janus.AccessRequestExpired:
		if written.Status.ExpiresAt != nil {
			expiryLateness.Observe(max(0, now.Sub(written.Status.ExpiresAt.Time).Seconds()))
		}
	}
}

// updateObserved is store.Update for a status write, counting the phase
// change it committed.
func updateObserved(ctx context.Context, store *genericregistry.Store, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	seen := &replacedSeen{UpdatedObjectInfo: objInfo}
	obj, created, err := store.Update(ctx, name, seen, createValidation, updateValidation, false, options)
	if err != nil || len(options.DryRun) > 0 || seen.old == nil {
		return obj, created, err
	}
	if written, ok := obj.(*janus.AccessRequest); ok {
		observeWrite(seen.old, written, time.Now())
	}
	return obj, created, err
}

// replacedSeen remembers the stored request the update was last applied
// to: on a conflict the store applies it again to the newer one, so the
// last is the one the committed write replaced.
type replacedSeen struct {
	rest.UpdatedObjectInfo
	old *janus.AccessRequest
}

func (r *replacedSeen) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	if ar, ok := old.(*janus.AccessRequest); ok {
		r.old = ar
	}
	return r.UpdatedObjectInfo.UpdatedObject(ctx, old)
}
