// Command janus-agent provisions Janus grants inside one target cluster and
// serves janus-apiserver through a tunnel it dials out.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/component-base/cli"

	"github.com/infroware/janus/pkg/cmd/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.Run(agent.NewCommandStartAgent(ctx, agent.NewAgentOptions())))
}
