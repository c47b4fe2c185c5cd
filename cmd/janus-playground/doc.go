// Command janus-playground runs Janus on this machine the way it runs in a
// cluster — a real kube-apiserver with Janus aggregated into it, and demo
// users whose RBAC decides what they may do — for trying it with kubectl:
//
//	janus-playground up      # build what is missing, start in the background
//	janus-playground status  # what runs, and what to type next
//	janus-playground down    # stop everything
//
// It is a thin command over internal/testenv; it must not grow logic of its own
// beyond detaching, recording PIDs and printing help.
package main
