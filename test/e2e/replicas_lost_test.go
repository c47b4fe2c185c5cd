package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
