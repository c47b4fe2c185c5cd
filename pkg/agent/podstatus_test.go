package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestPodStatusIsKubectlsStatusWord: the STATUS a pods read reports is the
// word kubectl get pods prints for the same pod.
func TestPodStatusIsKubectlsStatusWord(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	deleted := metav1.Now()
	cases := map[string]struct {
		pod  corev1.Pod
		want string
	}{
		"running":                  {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Ready: true, State: running}}}}, "Running"},
		"pending without statuses": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, "Pending"},
		"crash looping": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Ready: true, State: running}, {State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
		}}}, "CrashLoopBackOff"},
		"completed": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
		}}}, "Completed"},
		"killed by a signal": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Signal: 9, ExitCode: 137}}},
		}}}, "Signal:9"},
		"evicted": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}}, "Evicted"},
		"second init container": {corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				{State: running, Started: ptr.To(true)},
			}},
		}, "Init:1/2"},
		"init container failing": {corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
			}},
		}, "Init:CrashLoopBackOff"},
		"running sidecar": {corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "proxy", State: running, Started: ptr.To(true)}},
				ContainerStatuses:     []corev1.ContainerStatus{{Ready: true, State: running}},
			},
		}, "Running"},
		"being deleted": {corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Ready: true, State: running}}}}, "Terminating"},
		"deleted on a lost node": {corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"}}, "Unknown"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := podStatus(&tc.pod); got != tc.want {
				t.Errorf("status %q, want %q", got, tc.want)
			}
		})
	}
}
