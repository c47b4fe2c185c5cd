package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/pkg/recording"
)

// holdCat opens a session of command (a cat) under request as alice,
// through whichever replica the Service sends the exec to.
func (r *twoReplicas) holdCat(request string, command ...string) *heldCat {
	cfg, err := r.tb.RESTConfigFor("alice")
	if err != nil {
		r.t.Fatal(err)
	}
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": command, "stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", cfg.Host+execPrefix+request+"/exec?"+q.Encode())
	if err != nil {
		r.t.Fatal(err)
	}
	return holdCatStream(r.t, func(ctx context.Context, opts remotecommand.StreamOptions) error {
		return executor.StreamWithContext(klog.NewContext(ctx, klog.Logger{}), opts)
	})
}

// routeAPITo sends the API to replica only, and waits until it answers
// through it.
func (r *twoReplicas) routeAPITo(replica string) {
	r.t.Helper()
	if err := r.tb.RouteAPIService(replica); err != nil {
		r.t.Fatal(err)
	}
	r.poll("the API answering through "+replica, 30*time.Second, func(ctx context.Context) (bool, error) {
		_, err := r.janus("admin").JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
}

// attachAndTerminateThroughTheOtherReplica: two sessions of alice's are
// relayed by replica B; then the API goes to replica A only. carol attaches
// to one through A and sees its output within a second, and nothing she
// sends reaches it; terminating it through A cuts that session alone, with
// carol's reason on alice's terminal and in its Session. B's peer calls
// refuse whoever comes without the peer token.
func (r *twoReplicas) attachAndTerminateThroughTheOtherReplica() {
	t := r.t
	ctx := bg(t)
	ar := r.request(time.Hour)
	r.waitPhase(ar.Name, v1alpha1.AccessRequestActive, 60*time.Second)

	// Both sessions go to B, and stay there when the API moves to A.
	r.routeAPITo(testenv.ReplicaB)
	stopKeeping, err := r.tb.KeepAPIServiceConnections()
	if err != nil {
		t.Fatal(err)
	}
	watched, other := r.holdCat(ar.Name, "cat"), r.holdCat(ar.Name, "cat", "-u")
	watched.echoes(t, "watched-up")
	other.echoes(t, "other-up")
	stopKeeping()
	sessions, err := r.janus("admin").JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{LabelSelector: requestLabel + "=" + ar.Name})
	if err != nil || len(sessions.Items) != 2 {
		t.Fatalf("alice's sessions: %v %+v", err, sessions)
	}
	var name, otherName string
	for _, s := range sessions.Items {
		if s.Status.Server != testenv.ReplicaB {
			t.Fatalf("session %s is relayed by %q, want %s", s.Name, s.Status.Server, testenv.ReplicaB)
		}
		if slices.Equal(s.Spec.Command, []string{"cat"}) {
			name = s.Name
		} else {
			otherName = s.Name
		}
	}
	r.routeAPITo(testenv.ReplicaA)
	watched.echoes(t, "still-on-b")

	// carol attaches through A, which follows the session on B.
	stream, err := r.janus("carol").JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(name).SubResource("attach").Stream(ctx)
	if err != nil {
		t.Fatalf("carol attaching to %s through A: %v", name, err)
	}
	defer stream.Close()
	// Each event with when it arrived, so that the time measured is the
	// stream's, not how long this test took to look.
	type arrived struct {
		recording.Event
		at time.Time
	}
	header := make(chan recording.Header, 1)
	attached := make(chan arrived, 100)
	go func() {
		defer close(attached)
		sc := bufio.NewScanner(stream)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		if !sc.Scan() {
			return
		}
		if h, _, err := recording.Parse(append(sc.Bytes(), '\n')); err == nil {
			header <- h
		}
		for sc.Scan() {
			if ev, err := recording.ParseEvent(sc.Bytes()); err == nil {
				attached <- arrived{ev, time.Now()}
			}
		}
	}()
	select {
	case h := <-header:
		if h.Janus.Session != name || h.Janus.User != "alice" {
			t.Errorf("the attach stream's header %+v, want session %s of alice", h, name)
		}
	case <-time.After(conditionTimeout):
		t.Fatal("the attach stream through A brought no header")
	}
	typed := time.Now()
	watched.echoes(t, "watched-through-a")
	echoed := time.Since(typed)
	saw := func(word string) time.Duration {
		t.Helper()
		timeout := time.After(conditionTimeout)
		for {
			select {
			case ev, ok := <-attached:
				if !ok {
					t.Fatalf("the attach stream ended before %s", word)
				}
				if ev.Code == "o" && strings.Contains(string(ev.Data), word) {
					return ev.at.Sub(typed)
				}
			case <-timeout:
				t.Fatalf("carol never saw %s through A", word)
			}
		}
	}
	took := saw("watched-through-a")
	t.Logf("attach through A to a session relayed by B: alice's output reached carol %s after alice typed it (alice's own echo: %s)", took.Round(100*time.Microsecond), echoed.Round(100*time.Microsecond))
	if took > time.Second {
		t.Errorf("carol saw alice's output %s after she typed it, want within 1s", took)
	}
	r.logSays(testenv.ReplicaA, `"Attaching through the relaying replica" session="`+name+`" replica="janus-b"`)
	r.logSays(testenv.ReplicaB, `"A peer follows a session relayed here" session="`+name+`" peer="janus-a"`)

	// Nothing carol sends reaches the session.
	for _, who := range []struct {
		name string
		c    versioned.Interface
		want func(error) bool
	}{{"carol", r.janus("carol"), apierrors.IsForbidden}, {"cluster-admin", r.janus("admin"), apierrors.IsMethodNotSupported}} {
		err := who.c.JanusV1alpha1().RESTClient().Post().Resource("sessions").Name(name).SubResource("attach").Body([]byte("rm -rf /\n")).Do(ctx).Error()
		if !who.want(err) {
			t.Errorf("%s POSTing to attach through A: %v, want it refused", who.name, err)
		}
	}
	// B's peer calls want the peer token, which no user has.
	r.peerCallsRefused(name)

	// Terminate through A: B cuts that session and no other.
	if _, err := r.janus("carol").JanusV1alpha1().Sessions().Terminate(ctx, name, &v1alpha1.SessionTermination{}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("carol terminating without a reason through A: %v, want 422", err)
	}
	const why = "session terminated by carol: INC-12: cut from replica A"
	begin := time.Now()
	got, err := r.janus("carol").JanusV1alpha1().Sessions().Terminate(ctx, name, &v1alpha1.SessionTermination{Reason: "INC-12: cut from replica A"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("carol terminating %s through A: %v", name, err)
	}
	t.Logf("terminate through A of a session relayed by B answered the closed Session in %s", time.Since(begin).Round(time.Millisecond))
	if got.Status.Phase != v1alpha1.SessionClosed || got.Status.EndReason != why {
		t.Errorf("terminate through A answered %+v, want the Session closed with %q", got.Status, why)
	}
	select {
	case err := <-watched.ended:
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("alice's terminated session ended with %v, want %q", err, why)
		}
	case <-time.After(conditionTimeout):
		t.Fatal("the session terminated through A did not end")
	}
	var lastMarker string
	for ev := range attached {
		if ev.Code == "m" {
			lastMarker = string(ev.Data)
		}
	}
	if !strings.Contains(lastMarker, why) {
		t.Errorf("the attach stream's last marker %q, want the termination", lastMarker)
	}
	r.logSays(testenv.ReplicaB, `"Session terminated for a peer" session="`+name+`" peer="janus-a"`)
	if s, err := r.janus("admin").JanusV1alpha1().Sessions().Get(ctx, name, metav1.GetOptions{}); err != nil || s.Status.Phase != v1alpha1.SessionClosed || s.Status.EndReason != why {
		t.Errorf("the terminated Session: %v %+v, want Closed with %q", err, s.Status, why)
	}
	other.echoes(t, "other-still-here")
	if s, err := r.janus("admin").JanusV1alpha1().Sessions().Get(ctx, otherName, metav1.GetOptions{}); err != nil || s.Status.Phase != v1alpha1.SessionOpen {
		t.Errorf("the other session after the termination: %v %+v, want it open", err, s.Status)
	}
	if _, err := r.janus("carol").JanusV1alpha1().Sessions().Terminate(ctx, name, &v1alpha1.SessionTermination{Reason: "again"}, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("terminating the ended session again through A: %v, want 409", err)
	}
	other.in.Close()
}

// peerCallsRefused calls replica B's tunnel port as a peer would, for the
// session name, without the peer token and with a wrong one: both are
// refused with 401, and the session is not cut.
func (r *twoReplicas) peerCallsRefused(name string) {
	t := r.t
	address, err := r.tb.ReplicaTunnelAddress(testenv.ReplicaB)
	if err != nil {
		t.Fatal(err)
	}
	// Whoever tries this need not trust B's certificate: no verification.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a caller that does not verify is what is tried
	defer client.CloseIdleConnections()
	for _, tc := range []struct{ what, token string }{{"without the peer token", ""}, {"with a wrong peer token", strings.Repeat("0", 64)}} {
		for method, call := range map[string]string{http.MethodGet: "/sessions/" + name + "/attach", http.MethodPost: "/sessions/" + name + "/terminate"} {
			req, _ := http.NewRequestWithContext(bg(t), method, "https://"+address+"/connect", strings.NewReader("session terminated by mallory"))
			req.Header.Set("X-Janus-Peer-Call", call)
			req.Header.Set("X-Janus-Peer", testenv.ReplicaA)
			if tc.token != "" {
				req.Header.Set("X-Janus-Peer-Token", tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s %s on B: %v", method, call, tc.what, err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s %s on B: %d %q, want 401", method, call, tc.what, resp.StatusCode, body)
			}
		}
	}
}

// logSays checks that replica's log comes to hold line.
func (r *twoReplicas) logSays(replica, line string) {
	r.t.Helper()
	log := "janus-apiserver.log"
	if replica == testenv.ReplicaB {
		log = "janus-apiserver-b.log"
	}
	err := wait.PollUntilContextTimeout(bg(r.t), 20*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		data, err := os.ReadFile(filepath.Join(r.tb.LogDir(), log))
		return err == nil && strings.Contains(string(data), line), nil
	})
	if err != nil {
		r.t.Errorf("%s does not say %s: %v", log, line, err)
	}
}

// sessionOn opens a session of alice's under request through the replica
// the API goes to now, and names its Session, which replica relays.
func (r *twoReplicas) sessionOn(replica, request string) string {
	t := r.t
	s := r.holdCat(request, "cat")
	s.echoes(t, "up-on-"+replica)
	sessions, err := r.janus("admin").JanusV1alpha1().Sessions().List(bg(t), metav1.ListOptions{LabelSelector: requestLabel + "=" + request})
	if err != nil || len(sessions.Items) != 1 || sessions.Items[0].Status.Server != replica {
		t.Fatalf("the session of %s: %v %+v, want one relayed by %s", request, err, sessions, replica)
	}
	return sessions.Items[0].Name
}

// relayGoneSays: with the replica relaying session name killed, attach
// and terminate through another answer 503 naming it.
func (r *twoReplicas) relayGoneSays(name, replica string) {
	t := r.t
	ctx := bg(t)
	says := `relayed by janus-apiserver replica "` + replica + `", which this replica cannot reach`
	err := r.janus("carol").JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(name).SubResource("attach").Do(ctx).Error()
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), says) {
		t.Errorf("attaching to a session of the killed replica %s: %v, want 503 saying %q", replica, err, says)
	}
	_, err = r.janus("carol").JanusV1alpha1().Sessions().Terminate(ctx, name, &v1alpha1.SessionTermination{Reason: "INC-12"}, metav1.CreateOptions{})
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), says) {
		t.Errorf("terminating a session of the killed replica %s: %v, want 503 saying %q", replica, err, says)
	} else {
		t.Logf("a session of the killed replica: %v", err)
	}
}
