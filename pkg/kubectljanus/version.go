package kubectljanus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/version"
)

// janusOpenAPIPath is the janus.infroware.io OpenAPI v3 document, which
// kube-apiserver passes through from janus-apiserver unchanged: its
// info.version is the build of janus-apiserver serving it. The central
// cluster's /version is kube-apiserver's own.
var janusOpenAPIPath = "/openapi/v3/apis/" + v1alpha1.SchemeGroupVersion.Group + "/" + v1alpha1.SchemeGroupVersion.Version

// versions is what `kubectl janus version -o json|yaml` prints.
type versions struct {
	ClientVersion     apimachineryversion.Info  `json:"clientVersion"`
	ServerVersion     *janusServerVersion       `json:"serverVersion,omitempty"`
	KubernetesVersion *apimachineryversion.Info `json:"kubernetesVersion,omitempty"`
}

// janusServerVersion is all janus-apiserver tells through the aggregation
// layer about its build.
type janusServerVersion struct {
	GitVersion string `json:"gitVersion"`
}

func newVersionCommand(o *Options) *cobra.Command {
	var clientOnly bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of kubectl janus, of janus-apiserver and of the central cluster",
		Long: `Print the version of this plugin and, unless --client is given, the version of
the janus-apiserver serving janus.infroware.io and of the central cluster's
kube-apiserver, as the current kubeconfig reaches them.`,
		Example: `  kubectl janus version
  kubectl janus version --client -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "" && output != "json" && output != "yaml" {
				return fmt.Errorf("--output must be json or yaml, not %q", output)
			}
			v := versions{ClientVersion: version.Get()}
			var serverErr error
			if !clientOnly {
				serverErr = o.serverVersions(c.Context(), &v)
			}
			if err := printVersions(o, v, output); err != nil {
				return err
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Print only the plugin's version; do not contact the cluster.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml. Without it, one line per component.")
	return cmd
}

// serverVersions fills in what it can reach; the plugin's own version is
// printed even when the cluster is not.
func (o *Options) serverVersions(ctx context.Context, v *versions) error {
	c, err := o.clients()
	if err != nil {
		return err
	}
	kube, err := c.kube.Discovery().ServerVersionWithContext(ctx)
	if err != nil {
		return fmt.Errorf("reading the central cluster's version: %w", err)
	}
	v.KubernetesVersion = kube
	body, err := c.kube.Discovery().RESTClient().Get().AbsPath(janusOpenAPIPath).SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("reading janus-apiserver's version from %s (is its APIService available?): %w", janusOpenAPIPath, err)
	}
	var doc struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("decoding %s: %w", janusOpenAPIPath, err)
	}
	v.ServerVersion = &janusServerVersion{GitVersion: doc.Info.Version}
	return nil
}

func printVersions(o *Options, v versions, output string) error {
	switch output {
	case "json":
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", out)
		return err
	case "yaml":
		out, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(out)
		return err
	}
	fmt.Fprintf(o.Out, "Client Version: %s\n", version.String())
	if v.ServerVersion != nil {
		fmt.Fprintf(o.Out, "Server Version: %s\n", v.ServerVersion.GitVersion)
	}
	if v.KubernetesVersion != nil {
		fmt.Fprintf(o.Out, "Kubernetes Version: %s\n", v.KubernetesVersion.GitVersion)
	}
	return nil
}
