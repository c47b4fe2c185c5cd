package kubectljanus

import (
	"net/url"
	"reflect"
	"testing"

	"k8s.io/client-go/rest"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

func TestExecURLCarriesTheOptionsAsQuery(t *testing.T) {
	janus, err := versioned.NewForConfig(&rest.Config{Host: "https://central.example:6443"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clients{janus: janus}
	u := c.subresourceURL("alice-x7k2p", "exec", &v1alpha1.AccessRequestExecOptions{
		Namespace: "payments", Pod: "api-0", Container: "app",
		Command: []string{"sh", "-c", "echo hi"},
		Stdin:   true, Stdout: true, TTY: true,
	})
	if got, want := u.Path, "/apis/janus.infroware.io/v1alpha1/accessrequests/alice-x7k2p/exec"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	want := url.Values{
		"namespace": {"payments"}, "pod": {"api-0"}, "container": {"app"},
		"command": {"sh", "-c", "echo hi"},
		"stdin":   {"true"}, "stdout": {"true"}, "tty": {"true"},
	}
	if got := u.Query(); !reflect.DeepEqual(got, want) {
		t.Errorf("query %v, want %v", got, want)
	}
}

func TestLogURLCarriesTheOptionsAsQuery(t *testing.T) {
	janus, err := versioned.NewForConfig(&rest.Config{Host: "https://central.example:6443"})
	if err != nil {
		t.Fatal(err)
	}
	tail := int64(10)
	u := (&clients{janus: janus}).subresourceURL("alice-x7k2p", "log", &v1alpha1.AccessRequestLogOptions{
		Namespace: "payments", Pod: "api-0", Follow: true, TailLines: &tail,
	})
	want := url.Values{"namespace": {"payments"}, "pod": {"api-0"}, "follow": {"true"}, "tailLines": {"10"}}
	if got := u.Query(); !reflect.DeepEqual(got, want) {
		t.Errorf("query %v, want %v", got, want)
	}
}
