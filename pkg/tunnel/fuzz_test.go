package tunnel

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzDecodeExecOptions: any query decodes or errs without a panic, and
// what decodes re-encodes to itself: nothing but the options survive.
func FuzzDecodeExecOptions(f *testing.F) {
	f.Add("command=sh&command=-c&command=echo+hi&container=main&stdin=true&tty=1")
	f.Add("insecureSkipTLSVerifyBackend=true&foo=bar&command=%00")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		opts, err := DecodeExecOptions(q)
		if err != nil {
			return
		}
		again, err := EncodeExecOptions(opts)
		if err != nil {
			t.Fatalf("encoding decoded options %+v: %v", opts, err)
		}
		for key := range again {
			switch key {
			case "container", "command", "stdin", "stdout", "stderr", "tty":
			default:
				t.Fatalf("re-encoded options carry %q", key)
			}
		}
	})
}

// FuzzDecodeLogOptions, likewise for logs.
func FuzzDecodeLogOptions(f *testing.F) {
	f.Add("container=main&tailLines=5&follow=true&sinceSeconds=60&limitBytes=10")
	f.Add("tailLines=abc&insecureSkipTLSVerifyBackend=true")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		opts, err := DecodeLogOptions(q)
		if err != nil {
			return
		}
		again, err := EncodeLogOptions(opts)
		if err != nil {
			t.Fatalf("encoding decoded options %+v: %v", opts, err)
		}
		if strings.Contains(again.Encode(), "insecureSkipTLSVerifyBackend") {
			t.Fatalf("re-encoded options carry insecureSkipTLSVerifyBackend: %s", again.Encode())
		}
	})
}

// FuzzStreamProtocols: no credential offered as a protocol passes.
func FuzzStreamProtocols(f *testing.F) {
	f.Add("v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.c2VjcmV0")
	f.Fuzz(func(t *testing.T, header string) {
		for _, p := range StreamProtocols([]string{header}) {
			if strings.Contains(p, "bearer") || strings.Contains(p, ",") || strings.TrimSpace(p) != p {
				t.Fatalf("StreamProtocols(%q) passed %q", header, p)
			}
		}
	})
}
