package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/pkg/recording"
)

// sessionPeople are the identities the access tests use beyond the demo
// users, bound for the test and reached through admin's impersonation:
// an auditor of every cluster, a viewer, and an approver of prod only.
type sessionPeople struct {
	auditor, viewer, prodApprover versioned.Interface
}

func bindSessionPeople(t *testing.T) sessionPeople {
	t.Helper()
	adminCfg, err := bed.RESTConfigFor("admin")
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	prodApprover, err := kube.RbacV1().ClusterRoles().Create(bg(t), &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-approver-for-prod-"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"sessions"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"sessions/recording", "sessions/attach"}, Verbs: []string{"get"}},
			{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"sessions/terminate"}, Verbs: []string{"create"}},
			{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"clusters"}, ResourceNames: []string{"prod"}, Verbs: []string{"approve"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a role that approves for prod: %v", err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), prodApprover.Name, metav1.DeleteOptions{})
	})
	for user, role := range map[string]string{"e2e-grace": "janus-auditor", "e2e-victor": "janus-viewer", "e2e-pat": prodApprover.Name} {
		binding, err := kube.RbacV1().ClusterRoleBindings().Create(bg(t), &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: user + "-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("binding %s to %s: %v", user, role, err)
		}
		t.Cleanup(func() {
			_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		})
	}
	waitUntilAllowed(t, kube, "e2e-grace", "audit", "")
	err = wait.PollUntilContextTimeout(bg(t), 100*time.Millisecond, conditionTimeout, true, func(ctx context.Context) (bool, error) {
		review, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "e2e-pat", Groups: []string{"system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: v1alpha1.GroupName, Resource: "clusters", Name: "prod", Verb: "approve"},
		}}, metav1.CreateOptions{})
		return err == nil && review.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("RBAC never let e2e-pat approve clusters/prod: %v", err)
	}
	return sessionPeople{
		auditor:      impersonating(t, adminCfg, "e2e-grace"),
		viewer:       impersonating(t, adminCfg, "e2e-victor"),
		prodApprover: impersonating(t, adminCfg, "e2e-pat"),
	}
}

// fetchRecording GETs sessions/NAME/recording as c.
func fetchRecording(t *testing.T, c versioned.Interface, name string) ([]byte, error) {
	t.Helper()
	res := c.JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(name).SubResource("recording").Do(bg(t))
	// Error decodes the API's Status; Raw alone would keep only its code.
	if err := res.Error(); err != nil {
		return nil, err
	}
	return res.Raw()
}

// TestSessionRecordingsAreReadOnlyByThoseAllowed: a session's recording is
// its user's, its cluster's approvers' and auditors'; another requester,
// a viewer, someone with no role, and an approver of another cluster get
// 403 naming what is missing; and nobody, not even cluster-admin, can
// write a Session.
func TestSessionRecordingsAreReadOnlyByThoseAllowed(t *testing.T) {
	t.Parallel()
	people := bindSessionPeople(t)

	ar := activeRequest(t, time.Hour, "payments")
	runCommand(t, ar.Name, "echo", "alice-was-here")
	alices := endedSessionRecording(t, ar.Name)

	// carol's own session under her own request, approved by bob.
	carolsRequest, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Create(bg(t), &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "carol-"},
		Spec:       v1alpha1.AccessRequestSpec{Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour}, Reason: "e2e recordings"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("carol creating a request: %v", err)
	}
	approveAs(t, "bob", carolsRequest.Name)
	waitForPhase(t, carolsRequest.Name, v1alpha1.AccessRequestActive, conditionTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	if _, errOut, err := execAs(ctx, t, "carol", carolsRequest.Name, "payments", "payments-api-0", "echo", "carol-was-here"); err != nil {
		t.Fatalf("carol's exec: %v (%s)", err, errOut)
	}
	carols := endedSessionRecording(t, carolsRequest.Name)

	session, err := janusAs(t, "admin").JanusV1alpha1().Sessions().Get(bg(t), alices, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []struct {
		name   string
		client versioned.Interface
	}{{"alice, its user", janusAs(t, "alice")}, {"bob, an approver of dev", janusAs(t, "bob")}, {"an auditor", people.auditor}} {
		doc, err := fetchRecording(t, who.client, alices)
		if err != nil {
			t.Errorf("%s fetching alice's recording: %v", who.name, err)
			continue
		}
		if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != session.Status.Recording.SHA256 || int64(len(doc)) != session.Status.Recording.Size {
			t.Errorf("%s read %d bytes with sha256 %x, but the Session says %d bytes, %s", who.name, len(doc), sum, session.Status.Recording.Size, session.Status.Recording.SHA256)
		}
		if _, events, err := recording.Parse(doc); err != nil || !strings.Contains(string(recording.Output(events)), "alice-was-here") {
			t.Errorf("%s read a recording without alice's output (%v)", who.name, err)
		}
	}
	if _, err := fetchRecording(t, people.auditor, carols); err != nil {
		t.Errorf("an auditor fetching carol's recording: %v", err)
	}

	refusals := []struct {
		name    string
		client  versioned.Interface
		session string
		says    string
	}{
		{"alice, another requester", janusAs(t, "alice"), carols, `verb "audit"`},
		{"dave, with no Janus role", janusAs(t, "dave"), alices, "sessions/recording"},
		{"a viewer", people.viewer, alices, "sessions/recording"},
		{"an approver of prod only", people.prodApprover, alices, `with name "dev"`},
	}
	for _, r := range refusals {
		_, err := fetchRecording(t, r.client, r.session)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), r.says) {
			t.Errorf("%s fetching %s: %v, want 403 saying %q", r.name, r.session, err, r.says)
		}
	}

	// Sessions are written by Janus alone: the API has no verb for it.
	admin := janusAs(t, "admin").JanusV1alpha1().RESTClient()
	forged := []byte(`{"apiVersion":"janus.infroware.io/v1alpha1","kind":"Session","metadata":{"name":"forged"},"spec":{"request":"x","cluster":"dev","namespace":"payments","pod":"p","user":{"username":"mallory"}}}`)
	for _, write := range []struct {
		verb string
		req  *rest.Request
	}{
		{"create", admin.Post().Resource("sessions").Body(forged)},
		{"update", admin.Put().Resource("sessions").Name(alices).Body(forged)},
		{"delete", admin.Delete().Resource("sessions").Name(alices)},
	} {
		err := write.req.Do(bg(t)).Error()
		if !apierrors.IsMethodNotSupported(err) {
			t.Errorf("cluster-admin trying to %s a Session: %v, want 405 Method Not Allowed", write.verb, err)
		}
	}
	if _, err := janusAs(t, "admin").JanusV1alpha1().Sessions().Get(bg(t), alices, metav1.GetOptions{}); err != nil {
		t.Errorf("alice's Session after the attempts: %v", err)
	}
}

// TestAttachIsReadOnlyAndTerminateCutsExactlyOne: an approver attached to
// a live session sees what alice types echoed back within a second and
// cannot send anything into it; terminate cuts that session, with
// carol's reason on alice's side, and leaves alice's other session be.
func TestAttachIsReadOnlyAndTerminateCutsExactlyOne(t *testing.T) {
	t.Parallel()
	people := bindSessionPeople(t)
	ar := activeRequest(t, time.Hour, "payments")

	open := func() *heldCat {
		return holdCatStream(t, func(ctx context.Context, opts remotecommand.StreamOptions) error {
			return streamAs(ctx, "alice", ar.Name, opts, "cat")
		})
	}
	echoed := func(s *heldCat, word string) {
		t.Helper()
		s.echoes(t, word)
	}
	first, second := open(), open()
	echoed(first, "first-up")
	echoed(second, "second-up")
	sessions, err := requestSessions(t, ar.Name)
	if err != nil || len(sessions) != 2 {
		t.Fatalf("alice's sessions: %v %+v", err, sessions)
	}
	// The first session is the one that echoed first-up: find it by its
	// recording, which holds its output so far (written once a second).
	var firstName, secondName string
	eventually(t, "the sessions' recordings show which is which", func() error {
		for _, s := range sessions {
			doc, err := fetchRecording(t, janusAs(t, "alice"), s.Name)
			if err != nil {
				return err
			}
			switch {
			case strings.Contains(string(doc), "first-up"):
				firstName = s.Name
			case strings.Contains(string(doc), "second-up"):
				secondName = s.Name
			}
		}
		if firstName == "" || secondName == "" {
			return errors.New("not yet recorded")
		}
		return nil
	})

	// carol attaches to the first session.
	stream, err := janusAs(t, "carol").JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(firstName).SubResource("attach").Stream(bg(t))
	if err != nil {
		t.Fatalf("carol attaching to %s: %v", firstName, err)
	}
	defer stream.Close()
	attached := make(chan recording.Event, 100)
	go func() {
		defer close(attached)
		sc := bufio.NewScanner(stream)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		header := true
		for sc.Scan() {
			if header {
				header = false
				continue
			}
			if ev, err := recording.ParseEvent(sc.Bytes()); err == nil {
				attached <- ev
			}
		}
	}()
	typed := time.Now()
	echoed(first, "watched-1")
	sawWithin := func(word string) time.Duration {
		t.Helper()
		timeout := time.After(conditionTimeout)
		for {
			select {
			case ev, ok := <-attached:
				if !ok {
					t.Fatalf("the attach stream ended before %s", word)
				}
				if ev.Code == "o" && strings.Contains(string(ev.Data), word) {
					return time.Since(typed)
				}
			case <-timeout:
				t.Fatalf("carol never saw %s", word)
			}
		}
	}
	took := sawWithin("watched-1")
	t.Logf("carol saw alice's output %s after alice typed it", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("carol saw alice's output after %s, want within 1s", took)
	}

	// Nothing carol sends reaches the session: RBAC gives approvers only
	// get on attach, and the API has no other verb for it, not even for
	// cluster-admin; alice's output stays hers.
	for _, who := range []struct {
		name string
		c    versioned.Interface
		want func(error) bool
	}{{"carol", janusAs(t, "carol"), apierrors.IsForbidden}, {"cluster-admin", janusAs(t, "admin"), apierrors.IsMethodNotSupported}} {
		err := who.c.JanusV1alpha1().RESTClient().Post().Resource("sessions").Name(firstName).SubResource("attach").Body([]byte("rm -rf /\n")).Do(bg(t)).Error()
		if !who.want(err) {
			t.Errorf("%s POSTing to attach: %v, want it refused", who.name, err)
		}
	}
	// An approver of prod, alice and a viewer cannot attach at all.
	for _, who := range []struct {
		name string
		c    versioned.Interface
		says string
	}{{"an approver of prod only", people.prodApprover, `with name "dev"`}, {"alice", janusAs(t, "alice"), "sessions/attach"}, {"a viewer", people.viewer, "sessions/attach"}} {
		err := who.c.JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(firstName).SubResource("attach").Do(bg(t)).Error()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), who.says) {
			t.Errorf("%s attaching: %v, want 403 saying %q", who.name, err, who.says)
		}
	}

	// Terminate: refused without a reason, and to those who may not.
	sessionsAPI := func(c versioned.Interface) error {
		_, err := c.JanusV1alpha1().Sessions().Terminate(bg(t), firstName, &v1alpha1.SessionTermination{Reason: "INC-9: done here"}, metav1.CreateOptions{})
		return err
	}
	if err := sessionsAPI(janusAs(t, "alice")); !apierrors.IsForbidden(err) {
		t.Errorf("alice terminating: %v, want 403", err)
	}
	if err := sessionsAPI(people.prodApprover); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `with name "dev"`) {
		t.Errorf("an approver of prod terminating: %v, want 403", err)
	}
	if _, err := janusAs(t, "carol").JanusV1alpha1().Sessions().Terminate(bg(t), firstName, &v1alpha1.SessionTermination{}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "reason") {
		t.Errorf("carol terminating without a reason: %v, want 422 on reason", err)
	}
	got, err := janusAs(t, "carol").JanusV1alpha1().Sessions().Terminate(bg(t), firstName, &v1alpha1.SessionTermination{Reason: "INC-9: done here"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("carol terminating %s: %v", firstName, err)
	}
	if got.Status.Phase != v1alpha1.SessionClosed || got.Status.EndReason != "session terminated by carol: INC-9: done here" {
		t.Errorf("terminate answered %+v, want the Session closed with carol's reason", got.Status)
	}
	select {
	case err := <-first.ended:
		if err == nil || !strings.Contains(err.Error(), "session terminated by carol: INC-9: done here") {
			t.Errorf("alice's terminated session ended with %v, want carol's reason", err)
		}
	case <-time.After(conditionTimeout):
		t.Fatal("the terminated session did not end")
	}
	var lastMarker string
	for ev := range attached {
		if ev.Code == "m" {
			lastMarker = string(ev.Data)
		}
	}
	if !strings.Contains(lastMarker, "session terminated by carol") {
		t.Errorf("the attach stream's last marker %q, want the termination", lastMarker)
	}
	// The other session goes on.
	echoed(second, "still-here")
	if s, err := janusAs(t, "admin").JanusV1alpha1().Sessions().Get(bg(t), secondName, metav1.GetOptions{}); err != nil || s.Status.Phase != v1alpha1.SessionOpen {
		t.Errorf("the other session after the termination: %v %+v, want it open", err, s.Status)
	}
	if _, err := janusAs(t, "carol").JanusV1alpha1().Sessions().Terminate(bg(t), firstName, &v1alpha1.SessionTermination{Reason: "again"}, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("terminating the ended session again: %v, want 409", err)
	}
	// The terminated session's recording has no input: nothing typed,
	// by alice or anyone, is recorded without --record-input.
	doc, err := fetchRecording(t, janusAs(t, "carol"), firstName)
	if err != nil {
		t.Fatal(err)
	}
	_, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Code == "i" {
			t.Errorf("the recording holds input %q", ev.Data)
		}
	}
	second.in.Close()
}

// TestAttachOutlivesTheRequestTimeout holds an approver's attach stream
// through the aggregator for longer than kube-apiserver's 60 s request
// timeout, which spares only watches and the attach, exec, log, proxy and
// portforward subresources: the stream still brings alice's output after
// 70 s.
func TestAttachOutlivesTheRequestTimeout(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := make(chan struct{})
	var once sync.Once
	go func() {
		_ = streamAs(ctx, "alice", ar.Name, remotecommand.StreamOptions{Stdout: writerFunc(func(p []byte) (int, error) {
			once.Do(func() { close(up) })
			return len(p), nil
		})}, "sh", "-c", "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo tick $i; sleep 3; done")
	}()
	select {
	case <-up:
	case <-time.After(conditionTimeout):
		t.Fatal("alice's session did not start")
	}
	sessions, err := requestSessions(t, ar.Name)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("alice's sessions: %v %+v", err, sessions)
	}
	stream, err := janusAs(t, "carol").JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(sessions[0].Name).SubResource("attach").Stream(ctx)
	if err != nil {
		t.Fatalf("carol attaching: %v", err)
	}
	defer stream.Close()
	attached := time.Now()
	sc := bufio.NewScanner(stream)
	held := 70 * time.Second
	lines := 0
	for sc.Scan() {
		lines++
		if time.Since(attached) > held {
			t.Logf("the attach stream brought %d lines in %s, the last: %s", lines, time.Since(attached).Round(time.Second), sc.Text())
			return
		}
	}
	t.Fatalf("the attach stream ended after %s and %d lines (%v), want it open past %s", time.Since(attached).Round(time.Second), lines, sc.Err(), held)
}
