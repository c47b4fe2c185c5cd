package kubectljanus

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

type requestOptions struct {
	*Options
	cluster    string
	namespaces []string
	duration   time.Duration
	reason     string
	wait       bool
	timeout    time.Duration
	output     *outputFlags
}

func newRequestCommand(o *Options) *cobra.Command {
	r := &requestOptions{Options: o, output: newOutputFlags("created")}
	cmd := &cobra.Command{
		Use:   "request --cluster CLUSTER --namespaces NS[,NS...] --reason REASON [--duration 1h] [--wait]",
		Short: "Ask for time-limited exec access to pods of some namespaces",
		Long: `Create an AccessRequest and print its name.

With --wait, follow the request until it is Active, printing each change
as it happens (to stderr, so stdout holds only the name or the -o output);
it fails if the request is denied, withdrawn, revoked or fails instead.
With -o the request is printed as it is at the end.`,
		Example: `  kubectl janus request --cluster dev --namespaces payments --reason "INC-1234: payments 5xx"
  kubectl janus request --cluster prod --namespaces payments,default --duration 30m --reason "INC-1234" --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.output.validate(); err != nil {
				return err
			}
			return r.run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&r.cluster, "cluster", "", "The target cluster (a Cluster's name).")
	cmd.Flags().StringSliceVar(&r.namespaces, "namespaces", nil, "The namespaces of the target cluster to exec into, comma-separated.")
	cmd.Flags().DurationVar(&r.duration, "duration", 0, "How long the access lasts once active (default: the server's, 1h).")
	cmd.Flags().StringVar(&r.reason, "reason", "", "Why the access is needed, for the approvers and the audit log.")
	cmd.Flags().BoolVar(&r.wait, "wait", false, "Wait until the request is Active, or refused.")
	cmd.Flags().DurationVar(&r.timeout, "timeout", defaultWaitTimeout, "With --wait, how long to wait; 0 waits without limit.")
	_ = cmd.RegisterFlagCompletionFunc("cluster", completeClusterNames(o))
	for _, required := range []string{"cluster", "namespaces", "reason"} {
		_ = cmd.MarkFlagRequired(required)
	}
	r.output.addFlags(cmd)
	return cmd
}

func (r *requestOptions) run(ctx context.Context) error {
	c, err := r.clients()
	if err != nil {
		return err
	}
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: r.namePrefix(ctx, c)},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster:    r.cluster,
			Namespaces: r.namespaces,
			Duration:   metav1.Duration{Duration: r.duration},
			Reason:     r.reason,
		},
	}
	created, err := c.requests().Create(ctx, ar, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil {
		return err
	}
	if !r.output.requested() {
		fmt.Fprintln(r.Out, created.Name)
	}
	final := created
	if r.wait {
		final, err = followRequest(ctx, c.requests(), created.Name, v1alpha1.AccessRequestActive, r.timeout, r.ErrOut)
		if err != nil {
			return err
		}
	}
	if r.output.requested() {
		if err := r.output.print(final, r.Out); err != nil {
			return err
		}
	}
	if r.wait && final.Status.Phase != v1alpha1.AccessRequestActive {
		return unreached(final, v1alpha1.AccessRequestActive)
	}
	return nil
}

// fieldManager names the plugin in managedFields and the audit log.
const fieldManager = "kubectl-janus"

var notInName = regexp.MustCompile(`[^a-z0-9-]+`)

// namePrefix makes request names say whose they are ("alice-x7k2p").
func (r *requestOptions) namePrefix(ctx context.Context, c *clients) string {
	user, err := c.currentUser(ctx)
	if err != nil {
		return "req-"
	}
	return namePrefixFor(user)
}

// namePrefixFor is the generateName for requests by user: the local part of
// the user name, less whatever cannot be in a DNS label, or "req-" when
// nothing is left.
func namePrefixFor(user string) string {
	user, _, _ = strings.Cut(user, "@")
	user = strings.TrimPrefix(user, "system:serviceaccount:")
	name := strings.Trim(notInName.ReplaceAllString(strings.ToLower(user), "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	if name == "" {
		return "req-"
	}
	return name + "-"
}
