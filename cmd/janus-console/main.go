// Command janus-console is the Janus web console: OpenID Connect sign-in,
// then request and approve access as the signed-in person.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/component-base/cli"

	"github.com/infroware/janus/pkg/console/server"
	"github.com/infroware/janus/pkg/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := server.NewCommand(ctx, server.NewOptions())
	version.AddFlag(cmd)
	os.Exit(cli.Run(cmd))
}
