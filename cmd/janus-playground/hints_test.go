package main

import (
	"strings"
	"testing"
)

func TestHintsSayHowToSignInToTheConsole(t *testing.T) {
	st := &state{
		ServerURL: "https://127.0.0.1:6443", JanusAddress: "127.1.0.1:443",
		ConsoleURL: "http://localhost:8400", ProviderIssuer: "http://127.0.0.1:45123",
		ConsoleNotices: []string{"the OpenID provider: 127.0.0.1:8401 is taken, so it is at http://127.0.0.1:45123 instead"},
	}
	var b strings.Builder
	printHints(&b, layout{repo: t.TempDir()}, st)
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"open http://localhost:8400",
		"OpenID provider http://127.0.0.1:45123",
		"127.0.0.1:8401 is taken",
		"alice / alice-password",
		"bob / bob-password",
		"carol / carol-password",
		"dave / dave-password",
		"passwords are for this playground only",
		"kubectl get clusters.janus.infroware.io",
		"make down",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the hints do not say %q", want)
		}
	}
}
