package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestDeleteRevokesFirst: an admin deleting an Active request, as kubectl
// delete does, cuts its open session and removes its grant from the target
// cluster; only then is the request gone, marked Revoked by its deleter,
// and an Event says so.
func TestDeleteRevokesFirst(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	if !slices.Contains(ar.Finalizers, v1alpha1.GrantFinalizer) {
		t.Fatalf("finalizers = %v, want %s", ar.Finalizers, v1alpha1.GrantFinalizer)
	}
	if len(grantObjects(t, ar.Name)) == 0 {
		t.Fatalf("the Active request %s has no grant in the target", ar.Name)
	}
	requests := janusAs(t, "admin").JanusV1alpha1().AccessRequests()
	w, err := requests.Watch(bg(t), metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", ar.Name).String(),
		ResourceVersion: ar.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := openSession(ctx, t, ar.Name)

	background := metav1.DeletePropagationBackground
	deleted := time.Now()
	if err := requests.Delete(bg(t), ar.Name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatalf("admin deleting %s: %v", ar.Name, err)
	}

	// The object goes last: when the watch tells it gone, the grant is
	// gone already.
	var last *v1alpha1.AccessRequest
	timeout := time.After(conditionTimeout)
	for gone := false; !gone; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch ended before %s was deleted", ar.Name)
			}
			switch ev.Type {
			case watch.Modified:
				last = ev.Object.(*v1alpha1.AccessRequest)
			case watch.Deleted:
				gone = true
			}
		case <-timeout:
			t.Fatalf("%s was not deleted within %s; last seen: %+v", ar.Name, conditionTimeout, last)
		}
	}
	t.Logf("the request was gone %s after the delete", time.Since(deleted).Round(time.Millisecond))
	if left := grantObjects(t, ar.Name); len(left) > 0 {
		t.Errorf("the request went while its grant was still in the target: %v", left)
	}
	if last == nil || last.Status.Phase != v1alpha1.AccessRequestRevoked {
		t.Fatalf("the request was not marked Revoked before it went: %+v", last)
	}
	if d := last.Status.Decision; d == nil || d.User != "admin" || d.Reason != v1alpha1.DecisionReasonDeleted {
		t.Errorf("decision %+v, want admin's deletion", d)
	}
	if c := meta.FindStatusCondition(last.Status.Conditions, v1alpha1.ConditionProvisioned); c == nil || c.Reason != v1alpha1.ReasonGrantRemoved {
		t.Errorf("Provisioned condition %+v, want the grant removed", c)
	}

	select {
	case res := <-done:
		if res.err == nil || !strings.Contains(res.err.Error(), "access ended: the request was deleted by admin") {
			t.Errorf("exit error %v, want a failure saying admin deleted the request", res.err)
		}
		if !strings.Contains(res.stderr, "janus: access ended: the request was deleted by admin") {
			t.Errorf("the terminal (stderr %q) does not say why the session ended", res.stderr)
		}
	case <-time.After(conditionTimeout):
		t.Fatalf("the session outlived its deleted request by %s", conditionTimeout)
	}

	cfg, err := bed.RESTConfigFor("admin")
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "an Event says admin deleted the request and its grant is gone", func() error {
		list, err := kube.CoreV1().Events("").List(bg(t), metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.name": ar.Name, "involvedObject.kind": "AccessRequest"}.String(),
		})
		if err != nil {
			return err
		}
		var seen []string
		for _, ev := range list.Items {
			if ev.Reason == "Deleted" && strings.Contains(ev.Message, "Deleted by admin: grant removed from cluster dev") {
				return nil
			}
			seen = append(seen, ev.Reason+": "+ev.Message)
		}
		return fmt.Errorf("events %q", seen)
	})
}

// TestOnlyJanusOwnsAndFinalizesRequests: a request cannot be given an
// owner (so garbage collection never removes it) nor lose the grant
// finalizer to anyone but Janus; a pending request, which holds no grant,
// goes at once with kubectl delete.
func TestOnlyJanusOwnsAndFinalizesRequests(t *testing.T) {
	t.Parallel()
	owned := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    "owned-",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "doomed", UID: "6b1c0e3e-0000-4000-8000-0000000000ff"}},
		},
		Spec: v1alpha1.AccessRequestSpec{Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour}, Reason: "e2e owners"},
	}
	_, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Create(bg(t), owned, metav1.CreateOptions{})
	expectInvalid(t, "alice creating a request with an owner", err, "metadata.ownerReferences")

	ar := newRequest(t, time.Hour, "payments")
	pulled := ar.DeepCopy()
	pulled.Finalizers = nil
	// A requester may not update requests at all; RBAC says so first.
	_, err = janusAs(t, "alice").JanusV1alpha1().AccessRequests().Update(bg(t), pulled, metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Errorf("alice removing the finalizer: %v, want a refusal", err)
	}
	// An admin, who may update, is refused by Janus.
	_, err = janusAs(t, "admin").JanusV1alpha1().AccessRequests().Update(bg(t), pulled, metav1.UpdateOptions{})
	expectInvalid(t, "admin removing the finalizer", err, "metadata.finalizers")
	extra := ar.DeepCopy()
	extra.Finalizers = append(extra.Finalizers, "example.com/keep")
	_, err = janusAs(t, "admin").JanusV1alpha1().AccessRequests().Update(bg(t), extra, metav1.UpdateOptions{})
	expectInvalid(t, "admin adding a finalizer", err, "metadata.finalizers")

	// kubectl delete waits until the object is gone.
	mustKubectl(t, "admin", "delete", "accessrequests.janus.infroware.io", ar.Name, "--timeout=30s")
	if _, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after kubectl delete the pending request is still there: %v", err)
	}
}

// expectInvalid checks that err is a 422 naming field among its causes.
func expectInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Errorf("%s: %v, want 422 Invalid", what, err)
		return
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			if c.Field == field {
				return
			}
		}
	}
	t.Errorf("%s: the 422 does not name %s: %v", what, field, err)
}
