// Command image builds the container images of janus-apiserver, janus-agent
// and janus-console without a container daemon (`make image`): each binary
// is built static (CGO_ENABLED=0, -trimpath, version stamped), put on a
// base of a few files (a CA bundle, /etc/passwd and /etc/group naming the
// nonroot user 65532, an empty /tmp), and written with go-containerregistry
// as an OCI archive (a tar of an OCI image layout) under _output/images.
// The images have no shell and no package manager; they run as 65532:65532
// with the binary as entrypoint, so a read-only root filesystem suffices.
//
// It is a build tool of this repository, not shipped, and pulls nothing:
// the base is assembled here rather than taken from a registry, because
// the machines it runs on need not reach one.
package main
