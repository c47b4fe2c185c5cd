package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/infroware/janus/internal/consoleenv"
	"github.com/infroware/janus/internal/testenv"
)

// printHints tells a newcomer what to type next.
func printHints(w io.Writer, l layout, st *state) {
	kc := func(user string) string { return display(l.kubeconfig(user)) }
	fmt.Fprintf(w, "kube-apiserver  %s (Janus aggregated from %s)\n", st.ServerURL, st.JanusAddress)
	fmt.Fprintf(w, "kubectl         %s -> %s\n", display(l.kubectlLink()), st.Kubectl)
	fmt.Fprintf(w, "logs            %s/ (audit: kube-apiserver-audit.log)\n", display(l.logDir()))
	fmt.Fprintf(w, "users           ")
	var users []string
	for _, u := range testenv.Users {
		users = append(users, fmt.Sprintf("%s (%s)", u.Name, u.Role))
	}
	fmt.Fprintf(w, "%s\n", strings.Join(users, ", "))
	fmt.Fprintf(w, "kubeconfigs     %s\n", display(filepath.Join(l.dir(), "<user>.kubeconfig")))
	fmt.Fprintf(w, "console         %s (OpenID provider %s)\n", st.ConsoleURL, st.ProviderIssuer)
	for _, n := range st.ConsoleNotices {
		fmt.Fprintf(w, "                note: %s\n", n)
	}
	printConsoleHints(w, st)
	fmt.Fprintf(w, `
Or try it with kubectl (from the repository root):

  export PATH="$PWD/%[1]s:$PATH"
  export KUBECONFIG=%[2]s
  kubectl get clusters.janus.infroware.io
  NAME=$(kubectl create -f artifacts/examples/accessrequest.yaml -o jsonpath='{.metadata.name}')
  kubectl get ar

  # in a second terminal (same exports), watch it change:
  kubectl get ar -w

  # bob approves for cluster dev (alice may not approve, not even her own):
  kubectl --kubeconfig %[3]s create --raw /apis/janus.infroware.io/v1alpha1/accessrequests/$NAME/approve -f artifacts/examples/approval.json
  kubectl get ar $NAME      # Active: the agent of dev has made the grant

  # what the grant is, in the target cluster dev (kwok runs its pods):
  kubectl --kubeconfig %[5]s get pods -A
  kubectl --kubeconfig %[5]s get serviceaccounts,roles,rolebindings -A -l janus.infroware.io/request=$NAME

  # alice execs into a pod of dev through Janus (no kubeconfig for dev needed):
  kubectl janus exec $NAME -n payments payments-api-0 -- echo hello from payments
  # keep a session open in a second terminal (same exports):
  kubectl janus exec $NAME -n payments payments-api-0 -- sleep 600

  # carol revokes; the grant is gone from dev and alice's session is cut
  # with "janus: access revoked by carol: incident closed":
  kubectl --kubeconfig %[6]s create --raw /apis/janus.infroware.io/v1alpha1/accessrequests/$NAME/revoke -f artifacts/examples/revocation.json
  kubectl --kubeconfig %[5]s get serviceaccounts,roles,rolebindings -A -l janus.infroware.io/request=$NAME
  kubectl describe ar $NAME

  # who may approve what is plain RBAC:
  kubectl --kubeconfig %[4]s auth can-i approve clusters.janus.infroware.io/prod --as bob
  kubectl --kubeconfig %[4]s auth can-i approve clusters.janus.infroware.io/prod --as carol

Stop it with: make down  (or go run ./cmd/janus-playground down)
`, display(l.binDir()), kc("alice"), kc("bob"), kc("admin"), display(filepath.Join(l.dir(), "dev-admin.kubeconfig")), kc("carol"))
}

// consoleSteps say what each demo user does in the console.
var consoleSteps = map[string]string{
	"alice": `"Request access", cluster dev`,
	"bob":   `"Approvals"`,
	"carol": `"Approvals"; revoke on a request's page`,
	"dave":  "sees what the API refuses him",
}

// printConsoleHints tells how to sign in to the console as each demo user.
func printConsoleHints(w io.Writer, st *state) {
	fmt.Fprintf(w, `
Try it in a browser on this machine: open %s
and sign in at the demo OpenID provider as one of these demo users
(the passwords are for this playground only):

`, st.ConsoleURL)
	for _, u := range consoleenv.DemoUsers() {
		role := ""
		if tu, ok := testenv.UserNamed(u.Username); ok {
			role = tu.Role
		}
		fmt.Fprintf(w, "  %-24s %s: %s\n", u.Username+" / "+u.Password, role, consoleSteps[u.Username])
	}
	fmt.Fprintf(w, `
A browser holds one sign-in at a time: sign out, or use a second browser
profile, to be alice and bob at once. The console acts as whoever signed
in, so kubectl below and the console show the same requests.
`)
}

// formatTimings reads "9.1s (etcd 0.8s, kube-apiserver 3.0s, ...)".
func formatTimings(timings []testenv.Timing) string {
	var total time.Duration
	var parts []string
	for _, t := range timings {
		if t.Name == "total" {
			total = t.Duration
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", t.Name, t.Duration.Round(10*time.Millisecond)))
	}
	return fmt.Sprintf("%s (%s)", total.Round(10*time.Millisecond), strings.Join(parts, ", "))
}
