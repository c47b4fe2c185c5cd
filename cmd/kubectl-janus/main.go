// Command kubectl-janus is the kubectl plugin `kubectl janus`: request,
// approve and use just-in-time exec access to pods through Janus.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infroware/janus/pkg/kubectljanus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := kubectljanus.Run(ctx, kubectljanus.NewCommand(streams), streams.ErrOut)
	stop()
	os.Exit(code)
}
