package terminal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"
	clientremotecommand "k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
)

// Target is what one terminal runs: a command with a terminal in a pod of
// a request.
type Target struct {
	Request, Namespace, Pod, Container string
	Command                            []string
}

// Bounds of a command the browser asks for; the API has its own.
const (
	maxArgs        = 32
	maxCommandSize = 4 << 10
)

// targetOf reads the terminal's query; what is wrong is said in words.
func targetOf(name string, q url.Values) (Target, error) {
	t := Target{Request: name, Namespace: q.Get("namespace"), Pod: q.Get("pod"), Container: q.Get("container"), Command: q["command"]}
	if len(t.Command) == 0 {
		t.Command = []string{"sh"}
	}
	size := 0
	for _, a := range t.Command {
		size += len(a)
	}
	switch {
	case t.Namespace == "":
		return t, errors.New("namespace is required: the namespace of the pod, one of the request's")
	case t.Pod == "":
		return t, errors.New("pod is required: the pod to open a terminal in")
	case len(t.Command) > maxArgs || size > maxCommandSize:
		return t, fmt.Errorf("command is too long: at most %d arguments of %d bytes in all", maxArgs, maxCommandSize)
	}
	return t, nil
}

// execURL is the URL of accessrequests/NAME/exec with a terminal.
func execURL(cfg *rest.Config, t Target) (*url.URL, error) {
	janus, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Janus client: %w", err)
	}
	opts := &v1alpha1.AccessRequestExecOptions{
		Namespace: t.Namespace, Pod: t.Pod, Container: t.Container, Command: t.Command,
		// A terminal carries both outputs on one stream, as kubectl exec -t.
		Stdin: true, Stdout: true, TTY: true,
	}
	return janus.JanusV1alpha1().RESTClient().Get().
		Resource("accessrequests").Name(t.Request).SubResource("exec").
		VersionedParams(opts, scheme.ParameterCodec).URL(), nil
}

// run relays the browser's terminal to the API until either side ends it,
// and returns what the API said of the end.
func run(ctx context.Context, cfg *rest.Config, t Target, b *browser) error {
	u, err := execURL(cfg, t)
	if err != nil {
		return err
	}
	executor, err := clientremotecommand.NewWebSocketExecutor(cfg, http.MethodGet, u.String())
	if err != nil {
		return fmt.Errorf("preparing the exec stream: %w", err)
	}
	return executor.StreamWithContext(ctx, clientremotecommand.StreamOptions{
		Stdin:             b.stdin,
		Stdout:            channelWriter{b, channelStdout},
		Tty:               true,
		TerminalSizeQueue: b.sizes,
	})
}

// statusOf is the final Status the browser reads on channel 3: success,
// the command's exit code, the API's refusal as the API said it, or
// Janus's own last words ("janus: access revoked by carol: …").
func statusOf(err error) *metav1.Status {
	s := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	if err == nil {
		return s
	}
	s.Status = metav1.StatusFailure
	var exit exec.CodeExitError
	var api apierrors.APIStatus
	// A refusal before the stream opened comes as an upgrade failure,
	// which hides the API's Status in its cause.
	var upgrade *httpstream.UpgradeFailureError
	if errors.As(err, &upgrade) {
		err = upgrade.Cause
	}
	switch {
	case errors.As(err, &exit):
		s.Reason = remotecommand.NonZeroExitCodeReason
		s.Message = exit.Error()
		s.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(exit.Code)}}}
	case errors.As(err, &api):
		*s = api.Status()
		s.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	default:
		s.Message = err.Error()
	}
	return s
}
