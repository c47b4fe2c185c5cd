package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/pkg/replicalease"
)

// replicaLeaseDuration is the two replicas' --replica-lease-duration:
// short, so that a replica killed for good is counted gone within the
// test.
const replicaLeaseDuration = 15 * time.Second

// recordingHolds waits until the stored recording of the open session
// name holds output: a recording is stored a second at a time, and a kill
// loses the last second.
func (r *twoReplicas) recordingHolds(name, output string) {
	admin := r.janus("admin")
	r.poll("the recording of "+name+" to hold "+output, 30*time.Second, func(context.Context) (bool, error) {
		doc, err := fetchRecording(r.t, admin, name)
		if err != nil {
			return false, nil
		}
		_, events, err := recording.Parse(doc)
		return err == nil && strings.Contains(string(recording.Output(events)), output), nil
	})
}

// lostReplicaClosed: replica, killed with SIGKILL at killed and not back,
// relayed session name. The Lease holder counts it gone once its
// heartbeat Lease has not changed for a whole duration, closes the
// Session with a reason naming it, its recording sealed and playable
// through the API with the digest the Session gives, and deletes the
// lost replica's Lease. It returns the closed Session.
func (r *twoReplicas) lostReplicaClosed(name, replica string, killed time.Time) *v1alpha1.Session {
	t := r.t
	ctx := bg(t)
	admin := r.janus("admin")
	var s *v1alpha1.Session
	r.poll("the leader to close session "+name+" of lost replica "+replica, 2*time.Minute, func(ctx context.Context) (bool, error) {
		got, err := admin.JanusV1alpha1().Sessions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s = got
		return got.Status.Phase == v1alpha1.SessionClosed, nil
	})
	closedAfter := time.Since(killed)
	st := s.Status
	if want := "janus-apiserver replica " + replica + " stopped renewing its heartbeat Lease"; !strings.Contains(st.EndReason, want) {
		t.Errorf("session %s of the lost replica closed with endReason %q, want it to say %q", name, st.EndReason, want)
	}
	if st.Server != replica || st.EndedAt == nil {
		t.Errorf("session %s: server %q, endedAt %v; want %s and a time", name, st.Server, st.EndedAt, replica)
	}
	if closedAfter < replicaLeaseDuration {
		t.Errorf("session %s closed %s after its replica's kill, before a whole lease duration (%s) could pass", name, closedAfter, replicaLeaseDuration)
	}
	if st.Recording == nil || st.Recording.SHA256 == "" {
		t.Fatalf("session %s: status.recording %+v, want the sealed recording's digest", name, st.Recording)
	}
	doc, err := fetchRecording(t, admin, name)
	if err != nil {
		t.Fatalf("fetching the recording of %s, made by lost replica %s, through the leader: %v", name, replica, err)
	}
	if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != st.Recording.SHA256 || int64(len(doc)) != st.Recording.Size {
		t.Errorf("the recording is %d bytes hashing to %x; the Session says %d bytes, %s", len(doc), sum, st.Recording.Size, st.Recording.SHA256)
	}
	_, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatalf("parsing the recording of %s: %v", name, err)
	}
	if out := string(recording.Output(events)); !strings.Contains(out, "up-on-"+replica) {
		t.Errorf("the recording of %s holds output %q, not what the session echoed before the kill", name, out)
	}

	leases := r.kube().CoordinationV1().Leases("janus")
	r.poll("the lost replica's heartbeat Lease to be deleted", 30*time.Second, func(ctx context.Context) (bool, error) {
		_, err := leases.Get(ctx, replicalease.LeaseName(replica), metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: replicalease.Label})
	if err != nil {
		t.Fatal(err)
	}
	var holders []string
	for _, l := range list.Items {
		holders = append(holders, ptr.Deref(l.Spec.HolderIdentity, ""))
	}
	if len(holders) != 1 || holders[0] == replica {
		t.Errorf("replica heartbeat Leases held by %v, want the surviving replica's only", holders)
	}
	t.Logf("lost replica %s: its session closed by the leader %s after the kill (lease duration %s), recording sealed (%d bytes), its Lease deleted", replica, closedAfter.Round(time.Millisecond), replicaLeaseDuration, len(doc))
	return s
}

// suspendedWhileItsLeaseIsRefused: replica B relays a session of alice's
// when the central cluster starts refusing B's heartbeat Lease (a
// ValidatingAdmissionPolicy denies writes to it, as lost RBAC or a
// partition would). Within half the lease duration B cuts the session,
// saying why on alice's terminal and in its Session, and answers a new
// exec 503; once the Lease is writable again B serves exec again.
func (r *twoReplicas) suspendedWhileItsLeaseIsRefused() {
	t := r.t
	ctx := bg(t)
	ar := r.request(time.Hour)
	r.waitPhase(ar.Name, v1alpha1.AccessRequestActive, 60*time.Second)
	r.routeAPITo(testenv.ReplicaB)
	held := r.holdCat(ar.Name, "cat")
	held.echoes(t, "before-the-lease-is-refused")

	lease := replicalease.LeaseName(testenv.ReplicaB)
	policies := r.kube().AdmissionregistrationV1()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-refuse-janus-b-heartbeat"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"coordination.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"leases"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "object.metadata.name != '" + lease + "'", Message: "e2e: the heartbeat of janus-b is refused"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: policy.Name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	if _, err := policies.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := policies.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	unrefuse := func() {
		_ = policies.ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = policies.ValidatingAdmissionPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	}
	defer unrefuse()
	refused := time.Now()

	const why = "janus-apiserver replica " + testenv.ReplicaB + " could not renew its heartbeat Lease"
	select {
	case err := <-held.ended:
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("alice's session on B ended with %v, want it cut saying %q", err, why)
		}
	case <-time.After(2 * replicaLeaseDuration):
		t.Fatalf("the session on B was not cut within %s of its Lease being refused", 2*replicaLeaseDuration)
	}
	cut := time.Since(refused)
	if cut >= replicaLeaseDuration {
		t.Errorf("the session on B was cut %s after its Lease was refused: the leader could count B gone at %s", cut, replicaLeaseDuration)
	}
	sessions, err := r.janus("admin").JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{LabelSelector: requestLabel + "=" + ar.Name})
	if err != nil || len(sessions.Items) != 1 {
		t.Fatalf("the sessions of %s: %v %+v", ar.Name, err, sessions)
	}
	r.poll("the cut session's Session closed", 30*time.Second, func(ctx context.Context) (bool, error) {
		s, err := r.janus("admin").JanusV1alpha1().Sessions().Get(ctx, sessions.Items[0].Name, metav1.GetOptions{})
		return err == nil && s.Status.Phase == v1alpha1.SessionClosed && strings.Contains(s.Status.EndReason, why) && s.Status.Server == testenv.ReplicaB, nil
	})
	execCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = r.exec(execCtx, ar.Name, "echo", "while-refused")
	cancel()
	if err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("a new exec through B while its Lease is refused: %v, want a 503 saying %q", err, why)
	}

	unrefuse()
	r.poll("exec through B again once its Lease is writable", 60*time.Second, func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := r.exec(execCtx, ar.Name, "echo", "lease-back")
		return err == nil && strings.TrimSpace(out) == "lease-back", nil
	})
	t.Logf("replica B with its heartbeat Lease refused: its session cut %s after (lease duration %s), new sessions refused, exec back once the Lease was writable again", cut.Round(time.Millisecond), replicaLeaseDuration)
}
