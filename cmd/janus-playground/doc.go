// Command janus-playground runs Janus on this machine the way it runs in a
// cluster — a real kube-apiserver with Janus aggregated into it, a target
// cluster with an agent, demo users whose RBAC decides what they may do, and
// the web console with a demo OpenID provider they sign in at — for trying
// it with kubectl and a browser:
//
//	janus-playground up      # build what is missing, start in the background
//	janus-playground status  # what runs, and what to type next
//	janus-playground down    # stop everything
//
// It is a thin command over internal/testenv and internal/consoleenv; it
// must not grow logic of its own beyond detaching, recording PIDs and
// printing help.
package main
