package accessrequest

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/events"
)

// SessionLeftOpenClosed is the request's side of a session its replica
// died under and closed when it came back (sessionregistry.Records
// CloseLeftOpen): what sessionObserver.Ended would have done had the
// replica lived. The count is best effort, as there: the Session is the
// record.
func (s *Storage) SessionLeftOpenClosed(ctx context.Context, sess *janus.Session) {
	obj, _, err := s.Status.Update(ctx, sess.Spec.Request, rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		ar := old.(*janus.AccessRequest).DeepCopy()
		if ar.Status.ActiveSessions > 0 {
			ar.Status.ActiveSessions--
		}
		return ar, nil
	}), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Sessions outlive their requests.
		return
	case err != nil:
		klog.ErrorS(err, "Counting the end of a session left open on its request", "request", sess.Spec.Request, "session", sess.Name)
		return
	}
	st := &sess.Status
	var took time.Duration
	if st.StartedAt != nil && st.EndedAt != nil {
		took = st.EndedAt.Sub(st.StartedAt.Time)
	}
	s.Exec.recorder.Eventf(events.Ref(obj.(*janus.AccessRequest)), corev1.EventTypeWarning, "SessionEnded", "%s ended after %s, %s in, %s out: %s",
		(&sessionObserver{session: sess}).describe(), humanDuration(took), formatBytes(st.BytesIn), formatBytes(st.BytesOut), st.EndReason)
}
