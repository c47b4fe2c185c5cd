package integration

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/test/integration/framework"
)

func activeRequest(t *testing.T, e *env) *v1alpha1.AccessRequest {
	t.Helper()
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "delete test"}, metav1.CreateOptions{})
	mustSucceed(t, "approving", ar, err)
	return waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })
}

func waitForGone(t *testing.T, e *env, name string, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, timeout, true, func(c context.Context) (bool, error) {
		_, err := e.admin.JanusV1alpha1().AccessRequests().Get(c, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("request %s is still there after %s", name, timeout)
	}
}

// TestDeleteRevokesFirst: deleting an Active request has the agent remove
// its grant and cut its session while the object is still there; the
// request is marked Revoked by its deleter, and only then is it gone.
func TestDeleteRevokesFirst(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	agent := &grantingAgent{}
	agent.connect(t, e)
	ar := activeRequest(t, e)
	if !slices.Contains(ar.Finalizers, v1alpha1.GrantFinalizer) {
		t.Fatalf("finalizers = %v, want %s", ar.Finalizers, v1alpha1.GrantFinalizer)
	}
	conn := openExec(t, e, ar.Name)
	echo(t, conn, "hi")

	heldWhileRemoving := make(chan bool, 1)
	agent.mu.Lock()
	agent.onRemove = func(request string) {
		if request != ar.Name {
			return
		}
		got, err := e.admin.JanusV1alpha1().AccessRequests().Get(context.Background(), request, metav1.GetOptions{})
		select {
		case heldWhileRemoving <- err == nil && got.DeletionTimestamp != nil:
		default:
		}
	}
	agent.mu.Unlock()

	w, err := e.admin.JanusV1alpha1().AccessRequests().Watch(ctx(t), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", ar.Name).String(), ResourceVersion: ar.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	background := metav1.DeletePropagationBackground
	if err := e.admin.JanusV1alpha1().AccessRequests().Delete(ctx(t), ar.Name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatalf("deleting: %v", err)
	}

	// The session is cut and says why.
	var told metav1.Status
	for {
		channel, payload := readFrame(t, conn)
		if channel == channelError {
			if err := json.Unmarshal([]byte(payload), &told); err != nil {
				t.Fatalf("the session's last message %q is not a Status", payload)
			}
			break
		}
	}
	if told.Status != metav1.StatusFailure || !strings.Contains(told.Message, "access ended: the request was deleted by admin") {
		t.Errorf("the session ended with %+v, want a failure saying admin deleted the request", told)
	}

	var last *v1alpha1.AccessRequest
	timeout := time.After(20 * time.Second)
	for deleted := false; !deleted; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended before the request was deleted")
			}
			switch ev.Type {
			case watch.Modified:
				last = ev.Object.(*v1alpha1.AccessRequest)
			case watch.Deleted:
				deleted = true
			}
		case <-timeout:
			t.Fatalf("the request was not deleted; last seen %+v", last)
		}
	}
	select {
	case held := <-heldWhileRemoving:
		if !held {
			t.Errorf("the request was not there, being deleted, while its grant was removed")
		}
	default:
		t.Errorf("the agent was never asked to remove the grant")
	}
	if last == nil || last.Status.Phase != v1alpha1.AccessRequestRevoked {
		t.Fatalf("the request was not marked Revoked before it went: %+v", last)
	}
	if d := last.Status.Decision; d == nil || d.User != "admin" || d.Reason != v1alpha1.DecisionReasonDeleted {
		t.Errorf("decision %+v, want admin's deletion", d)
	}
	if c := findCondition(last, v1alpha1.ConditionProvisioned); c == nil || c.Reason != v1alpha1.ReasonGrantRemoved {
		t.Errorf("Provisioned condition %+v, want the grant removed", c)
	}
}

// TestDeleteWaitsForTheAgent: without its agent a deleted request keeps
// its finalizer, refuses every decision, and goes once the agent is back
// and has removed the grant.
func TestDeleteWaitsForTheAgent(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	agent := &grantingAgent{}
	stop := agent.connect(t, e)
	ar := activeRequest(t, e)
	stop()

	if err := e.admin.JanusV1alpha1().AccessRequests().Delete(ctx(t), ar.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	held := waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Message == "deleted; waiting for the agent of cluster dev to remove the grant"
	})
	if held.DeletionTimestamp == nil || !slices.Contains(held.Finalizers, v1alpha1.GrantFinalizer) || held.Status.Phase != v1alpha1.AccessRequestActive {
		t.Errorf("while the agent is away the request is %+v, want it Active, being deleted, with its finalizer", held.ObjectMeta)
	}
	_, err := e.carol.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{Reason: "too"}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "being deleted")
	_, err = e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "more"}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "being deleted")
	// Nor may an admin pull the finalizer instead.
	pulled := held.DeepCopy()
	pulled.Finalizers = nil
	_, err = e.admin.JanusV1alpha1().AccessRequests().Update(ctx(t), pulled, metav1.UpdateOptions{})
	expectInvalidFields(t, err, "metadata.finalizers")

	agent.connect(t, e)
	waitForGone(t, e, ar.Name, 20*time.Second)
	if agent.removals(ar.Name) == 0 {
		t.Errorf("the request went without its grant being removed")
	}
}

// TestDeleteOfARequestWhoseClusterIsGone: once its Cluster is unregistered
// no agent can confirm the grant gone, and none can carry its sessions; a
// deleted request waiting for that agent goes.
func TestDeleteOfARequestWhoseClusterIsGone(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	agent := &grantingAgent{}
	stop := agent.connect(t, e)
	ar := activeRequest(t, e)
	stop()
	if err := e.admin.JanusV1alpha1().AccessRequests().Delete(ctx(t), ar.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Message == "deleted; waiting for the agent of cluster dev to remove the grant"
	})
	if err := e.admin.JanusV1alpha1().Clusters().Delete(ctx(t), "dev", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("unregistering cluster dev: %v", err)
	}
	waitForGone(t, e, ar.Name, 20*time.Second)
}

// TestDeleteOfARequestWithoutGrant: a pending request needs no agent to go.
func TestDeleteOfARequestWithoutGrant(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	if err := e.admin.JanusV1alpha1().AccessRequests().Delete(ctx(t), ar.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	waitForGone(t, e, ar.Name, 20*time.Second)
}

// TestNobodyElseOwnsOrFinalizesRequests: owners and foreign finalizers are
// refused at create and update, and the grant finalizer stays.
func TestNobodyElseOwnsOrFinalizesRequests(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	owned := request("dev", time.Hour, "payments")
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "doomed", UID: "uid-cm"}}
	_, err := e.alice.JanusV1alpha1().AccessRequests().Create(ctx(t), owned, metav1.CreateOptions{})
	expectInvalidFields(t, err, "metadata.ownerReferences")

	kept := request("dev", time.Hour, "payments")
	kept.Finalizers = []string{"example.com/keep"}
	_, err = e.alice.JanusV1alpha1().AccessRequests().Create(ctx(t), kept, metav1.CreateOptions{})
	expectInvalidFields(t, err, "metadata.finalizers")

	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	if !slices.Equal(ar.Finalizers, []string{v1alpha1.GrantFinalizer}) {
		t.Errorf("finalizers = %v, want only %s", ar.Finalizers, v1alpha1.GrantFinalizer)
	}
	for name, mutate := range map[string]func(*v1alpha1.AccessRequest){
		"remove the grant finalizer": func(ar *v1alpha1.AccessRequest) { ar.Finalizers = nil },
		"add a finalizer":            func(ar *v1alpha1.AccessRequest) { ar.Finalizers = append(ar.Finalizers, "example.com/keep") },
	} {
		changed := ar.DeepCopy()
		mutate(changed)
		_, err := e.admin.JanusV1alpha1().AccessRequests().Update(ctx(t), changed, metav1.UpdateOptions{})
		t.Run(name, func(t *testing.T) { expectInvalidFields(t, err, "metadata.finalizers") })
	}
	changed := ar.DeepCopy()
	changed.OwnerReferences = owned.OwnerReferences
	_, err = e.admin.JanusV1alpha1().AccessRequests().Update(ctx(t), changed, metav1.UpdateOptions{})
	expectInvalidFields(t, err, "metadata.ownerReferences")
}
