// Package charts tests the Helm charts under charts/ (janus and
// janus-agent) with the helm that hack/ensure-helm.sh builds: both lint
// clean, every values file under charts/*/ci renders what it says, the
// rendered objects pass a server-side dry-run apply against a real
// kube-apiserver whose namespaces enforce Pod Security "restricted", the
// flags they pass are flags the binaries know, and values.schema.json
// rejects typos and wrong types. It holds tests only; the flat manifests
// in artifacts/ are rendered by hack/update-manifests.sh, not here.
package charts
