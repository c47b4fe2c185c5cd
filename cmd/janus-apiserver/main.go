// Command janus-apiserver serves the janus.infroware.io API behind a
// kube-apiserver's aggregation layer.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/infroware/janus/pkg/cmd/server"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	options := server.NewJanusServerOptions(os.Stdout, os.Stderr)
	cmd := server.NewCommandStartJanusServer(ctx, options)
	os.Exit(cli.Run(cmd))
}
