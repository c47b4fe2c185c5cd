package agent

// Version is the agent's version, reported to janus-apiserver. Release
// builds set it with -ldflags "-X github.com/infroware/janus/pkg/agent.Version=v0.1.0".
var Version = "v0.0.0-dev"
