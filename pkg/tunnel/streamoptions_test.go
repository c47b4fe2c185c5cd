package tunnel

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

func everyExecOption() *corev1.PodExecOptions {
	return &corev1.PodExecOptions{
		Container: "app",
		Command:   []string{"sh", "-c", "echo one && echo two", "--", "a b", "x=y&z"},
		Stdin:     true, Stdout: true, Stderr: true, TTY: true,
	}
}

func everyLogOption() *corev1.PodLogOptions {
	return &corev1.PodLogOptions{
		Container: "app", Follow: true, Previous: true, Timestamps: true,
		SinceSeconds: ptr.To[int64](3600), TailLines: ptr.To[int64](200), LimitBytes: ptr.To[int64](1 << 20),
	}
}

func TestExecOptionsRoundTrip(t *testing.T) {
	cases := map[string]*corev1.PodExecOptions{
		"every option": everyExecOption(),
		"stdout only":  {Command: []string{"date"}, Stdout: true},
		"nothing set":  {},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := EncodeExecOptions(want)
			if err != nil {
				t.Fatal(err)
			}
			if got := q["command"]; !slices.Equal(got, want.Command) {
				t.Errorf("command in the query = %q, want %q in order", got, want.Command)
			}
			// Through the URL, as the agent receives it.
			parsed, err := url.ParseQuery(q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeExecOptions(parsed)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip gave %+v, want %+v", got, want)
			}
		})
	}
}

func TestLogOptionsRoundTrip(t *testing.T) {
	cases := map[string]*corev1.PodLogOptions{
		"every option":    everyLogOption(),
		"zero tail lines": {TailLines: ptr.To[int64](0)},
		"nothing set":     {},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := EncodeLogOptions(want)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := url.ParseQuery(q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeLogOptions(parsed)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip gave %+v, want %+v", got, want)
			}
		})
	}
}

// smuggled are parameters a caller might add to a stream's query. The
// pods/log ones are real options of the target that Janus does not offer.
var smuggled = url.Values{
	"insecureSkipTLSVerifyBackend": {"true"},
	"foo":                          {"bar"},
	"sinceTime":                    {"2020-01-01T00:00:00Z"},
	"stream":                       {"Stderr"},
	"kind":                         {"PodExecOptions"},
	"apiVersion":                   {"v1"},
}

func withSmuggled(t *testing.T, q url.Values) url.Values {
	t.Helper()
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	for k, v := range smuggled {
		if _, ok := out[k]; ok {
			t.Fatalf("the options already set %s", k)
		}
		out[k] = v
	}
	return out
}

func TestDecodeExecOptionsDropsSmuggledParameters(t *testing.T) {
	clean, err := EncodeExecOptions(everyExecOption())
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeExecOptions(withSmuggled(t, clean))
	if err != nil {
		t.Fatal(err)
	}
	reencoded, err := EncodeExecOptions(decoded)
	if err != nil {
		t.Fatal(err)
	}
	for k := range smuggled {
		if _, ok := reencoded[k]; ok {
			t.Errorf("%s survived decode and encode: %s", k, reencoded.Encode())
		}
	}
	if reencoded.Encode() != clean.Encode() {
		t.Errorf("re-encoded %s, want %s", reencoded.Encode(), clean.Encode())
	}
}

func TestDecodeLogOptionsDropsSmuggledParameters(t *testing.T) {
	clean, err := EncodeLogOptions(everyLogOption())
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeLogOptions(withSmuggled(t, clean))
	if err != nil {
		t.Fatal(err)
	}
	if decoded.InsecureSkipTLSVerifyBackend || decoded.SinceTime != nil || decoded.Stream != nil {
		t.Errorf("decoded options the tunnel does not carry: %+v", decoded)
	}
	reencoded, err := EncodeLogOptions(decoded)
	if err != nil {
		t.Fatal(err)
	}
	for k := range smuggled {
		if _, ok := reencoded[k]; ok {
			t.Errorf("%s survived decode and encode: %s", k, reencoded.Encode())
		}
	}
	if reencoded.Encode() != clean.Encode() {
		t.Errorf("re-encoded %s, want %s", reencoded.Encode(), clean.Encode())
	}
}

// TestStreamOptionsCarryEveryFieldButTheDroppedOnes fails when a k8s.io/api
// upgrade adds an option, so that someone decides whether it may cross the
// tunnel instead of it being dropped unnoticed.
func TestStreamOptionsCarryEveryFieldButTheDroppedOnes(t *testing.T) {
	cases := map[string]struct {
		typ     reflect.Type
		encode  func() (url.Values, error)
		dropped sets.Set[string]
	}{
		"exec": {reflect.TypeFor[corev1.PodExecOptions](), func() (url.Values, error) { return EncodeExecOptions(everyExecOption()) }, sets.New[string]()},
		"log": {reflect.TypeFor[corev1.PodLogOptions](), func() (url.Values, error) { return EncodeLogOptions(everyLogOption()) },
			sets.New("insecureSkipTLSVerifyBackend", "sinceTime", "stream")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := tc.encode()
			if err != nil {
				t.Fatal(err)
			}
			carried := sets.KeySet(q)
			for i := range tc.typ.NumField() {
				f := tc.typ.Field(i)
				param, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if param == "" {
					continue
				}
				if !carried.Has(param) && !tc.dropped.Has(param) {
					t.Errorf("%s is neither carried nor deliberately dropped", param)
				}
				if carried.Has(param) && tc.dropped.Has(param) {
					t.Errorf("%s is carried but listed as dropped", param)
				}
			}
		})
	}
}

func TestDecodeLogOptionsRejectsMalformedNumbers(t *testing.T) {
	for _, query := range []string{"tailLines=abc", "sinceSeconds=1.5", "limitBytes=99999999999999999999", "follow=true&tailLines=-"} {
		t.Run(query, func(t *testing.T) {
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			param := strings.Split(strings.TrimPrefix(query, "follow=true&"), "=")[0]
			_, err = DecodeLogOptions(q)
			if err == nil {
				t.Fatalf("decoded %s", query)
			}
			if !strings.Contains(err.Error(), param) {
				t.Errorf("error %q does not name %s", err, param)
			}
		})
	}
}

func TestDecodeExecOptionsReadsFlagsAsKubeAPIServer(t *testing.T) {
	cases := map[string]bool{"stdin=true": true, "stdin=1": true, "stdin": true, "stdin=false": false, "stdin=FALSE": false, "stdin=0": false, "": false}
	for query, want := range cases {
		t.Run(query, func(t *testing.T) {
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			o, err := DecodeExecOptions(q)
			if err != nil {
				t.Fatal(err)
			}
			if o.Stdin != want {
				t.Errorf("stdin = %v, want %v", o.Stdin, want)
			}
		})
	}
}

func TestStreamProtocolsKeepsOnlyChannelProtocols(t *testing.T) {
	const bearer = "base64url.bearer.authorization.k8s.io.ZXlKaGJHY2lPaUpTVXpJMU5pSXNJbXRwWkNJNklp"
	cases := map[string]struct {
		offered []string
		want    []string
	}{
		"kubectl":           {[]string{"v5.channel.k8s.io, v4.channel.k8s.io"}, []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}},
		"several headers":   {[]string{"v5.channel.k8s.io", "base64.channel.k8s.io,channel.k8s.io"}, []string{"v5.channel.k8s.io", "base64.channel.k8s.io", "channel.k8s.io"}},
		"versioned base64":  {[]string{"v4.base64.channel.k8s.io"}, []string{"v4.base64.channel.k8s.io"}},
		"browser token":     {[]string{bearer + ", v5.channel.k8s.io"}, []string{"v5.channel.k8s.io"}},
		"token only":        {[]string{bearer}, nil},
		"token dressed up":  {[]string{bearer + ".channel.k8s.io", "v5.channel.k8s.io"}, []string{"v5.channel.k8s.io"}},
		"duplicates":        {[]string{"v5.channel.k8s.io,v5.channel.k8s.io", " v5.channel.k8s.io "}, []string{"v5.channel.k8s.io"}},
		"spaces and tabs":   {[]string{" \tv4.channel.k8s.io ,\tv5.channel.k8s.io\t"}, []string{"v4.channel.k8s.io", "v5.channel.k8s.io"}},
		"empty entries":     {[]string{"", ",,", " , "}, nil},
		"other protocols":   {[]string{"portforward.k8s.io, SPDY/3.1+portforward.k8s.io, x.channel.k8s.io.evil, V5.CHANNEL.K8S.IO"}, nil},
		"no header":         {nil, nil},
		"order is client's": {[]string{"base64.channel.k8s.io, v5.channel.k8s.io, v4.channel.k8s.io"}, []string{"base64.channel.k8s.io", "v5.channel.k8s.io", "v4.channel.k8s.io"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := StreamProtocols(tc.offered)
			if !slices.Equal(got, tc.want) {
				t.Errorf("StreamProtocols(%q) = %q, want %q", tc.offered, got, tc.want)
			}
			for _, p := range got {
				if strings.Contains(p, "bearer") {
					t.Errorf("a bearer token survived: %q", p)
				}
			}
		})
	}
}

func TestIsWebsocketUpgrade(t *testing.T) {
	cases := []struct {
		connection, upgrade string
		want                bool
	}{
		{"Upgrade", "websocket", true},
		{"keep-alive, Upgrade", "WebSocket", true},
		{"Upgrade", "SPDY/3.1", false},
		{"keep-alive", "websocket", false},
		{"", "", false},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodGet, "http://agent/", nil)
		req.Header.Set("Connection", tc.connection)
		req.Header.Set("Upgrade", tc.upgrade)
		if got := IsWebsocketUpgrade(req); got != tc.want {
			t.Errorf("Connection %q, Upgrade %q: %v, want %v", tc.connection, tc.upgrade, got, tc.want)
		}
	}
}
