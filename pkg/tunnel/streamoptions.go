package tunnel

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// streamParameters turns exec and log options into the agent's URL query and
// back. k8s.io/api registers the types but not their url.Values
// conversions (those are generated inside k8s.io/kubernetes), so the two
// decoders below are registered here. They are the one list of parameters
// that cross the tunnel; both janus-apiserver and the agent go through them.
var streamParameters = newStreamParameterCodec()

func newStreamParameterCodec() runtime.ParameterCodec {
	scheme := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(scheme.AddConversionFunc((*url.Values)(nil), (*corev1.PodExecOptions)(nil), func(a, b any, _ conversion.Scope) error {
		return decodeExecQuery(*a.(*url.Values), b.(*corev1.PodExecOptions))
	}))
	utilruntime.Must(scheme.AddConversionFunc((*url.Values)(nil), (*corev1.PodLogOptions)(nil), func(a, b any, _ conversion.Scope) error {
		return decodeLogQuery(*a.(*url.Values), b.(*corev1.PodLogOptions))
	}))
	return runtime.NewParameterCodec(scheme)
}

// EncodeExecOptions is the query janus-apiserver sends the agent for an exec
// stream, the same query pods/exec takes.
func EncodeExecOptions(o *corev1.PodExecOptions) (url.Values, error) {
	q, err := streamParameters.EncodeParameters(o, corev1.SchemeGroupVersion)
	if err != nil {
		return nil, fmt.Errorf("encoding exec options: %w", err)
	}
	return q, nil
}

// DecodeExecOptions reads the query of an exec stream. Parameters it does not
// know are dropped, so re-encoding the result for the target leaves behind
// anything smuggled into the query.
func DecodeExecOptions(q url.Values) (*corev1.PodExecOptions, error) {
	o := &corev1.PodExecOptions{}
	if err := streamParameters.DecodeParameters(q, corev1.SchemeGroupVersion, o); err != nil {
		return nil, fmt.Errorf("decoding exec options: %w", err)
	}
	return o, nil
}

// EncodeLogOptions is the query janus-apiserver sends the agent for a log
// stream, the same query pods/log takes.
func EncodeLogOptions(o *corev1.PodLogOptions) (url.Values, error) {
	q, err := streamParameters.EncodeParameters(o, corev1.SchemeGroupVersion)
	if err != nil {
		return nil, fmt.Errorf("encoding log options: %w", err)
	}
	return q, nil
}

// DecodeLogOptions reads the query of a log stream. Only the options
// accessrequests/log offers are kept: in particular
// insecureSkipTLSVerifyBackend, which would have the target's API server skip
// verifying its kubelet, never reaches the target.
func DecodeLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	o := &corev1.PodLogOptions{}
	if err := streamParameters.DecodeParameters(q, corev1.SchemeGroupVersion, o); err != nil {
		return nil, fmt.Errorf("decoding log options: %w", err)
	}
	return o, nil
}

// decodeExecQuery and decodeLogQuery read parameters as kube-apiserver does
// (first value wins, a flag is on unless it is "false" or "0"), so the target
// sees what janus-apiserver's own options decoded.
func decodeExecQuery(q url.Values, out *corev1.PodExecOptions) error {
	*out = corev1.PodExecOptions{
		Stdin:     flagParameter(q, "stdin"),
		Stdout:    flagParameter(q, "stdout"),
		Stderr:    flagParameter(q, "stderr"),
		TTY:       flagParameter(q, "tty"),
		Container: q.Get("container"),
		Command:   slices.Clone(q["command"]),
	}
	return nil
}

func decodeLogQuery(q url.Values, out *corev1.PodLogOptions) error {
	o := corev1.PodLogOptions{
		Container:  q.Get("container"),
		Follow:     flagParameter(q, "follow"),
		Previous:   flagParameter(q, "previous"),
		Timestamps: flagParameter(q, "timestamps"),
	}
	for _, p := range []struct {
		name string
		into **int64
	}{{"sinceSeconds", &o.SinceSeconds}, {"tailLines", &o.TailLines}, {"limitBytes", &o.LimitBytes}} {
		values, ok := q[p.name]
		if !ok || len(values) == 0 {
			continue
		}
		if err := runtime.Convert_Slice_string_To_Pointer_int64(&values, p.into, nil); err != nil {
			return fmt.Errorf("parsing %s: %w", p.name, err)
		}
	}
	*out = o
	return nil
}

func flagParameter(q url.Values, name string) bool {
	values := q[name]
	var on bool
	// Never fails: any value but "false" or "0" turns the flag on.
	_ = runtime.Convert_Slice_string_To_bool(&values, &on, nil)
	return on
}

// channelProtocol matches the websocket subprotocols of exec and log streams:
// channel.k8s.io, base64.channel.k8s.io and their versioned forms
// (v4.channel.k8s.io, v4.base64.channel.k8s.io, v5.channel.k8s.io).
var channelProtocol = regexp.MustCompile(`^(v[0-9]+\.)?(base64\.)?channel\.k8s\.io$`)

// StreamProtocols picks, from the values of a client's Sec-WebSocket-Protocol
// headers, the stream protocols to offer the target, in the client's order
// and without duplicates. Browsers cannot set an Authorization header on a
// websocket, so clients carry a bearer token as the protocol
// base64url.bearer.authorization.k8s.io.<token>; forwarding the header as it
// came would hand the caller's credential to the target. Matching the exact
// channel protocols rather than any suffix keeps out a crafted
// "base64url.bearer.authorization.k8s.io.<token>.channel.k8s.io" too.
func StreamProtocols(offered []string) []string {
	var picked []string
	for _, header := range offered {
		for _, protocol := range strings.Split(header, ",") {
			protocol = strings.TrimSpace(protocol)
			if channelProtocol.MatchString(protocol) && !slices.Contains(picked, protocol) {
				picked = append(picked, protocol)
			}
		}
	}
	return picked
}

// IsWebsocketUpgrade reports whether req asks to become a websocket: its
// Connection header names "upgrade" and its Upgrade header "websocket".
// Both ends of a stream check it; SPDY upgrades and plain requests are
// not streams Janus carries.
func IsWebsocketUpgrade(req *http.Request) bool {
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range req.Header.Values("Connection") {
		for _, token := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "upgrade") {
				return true
			}
		}
	}
	return false
}
