package kubectljanus

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	janusv1alpha1 "github.com/infroware/janus/pkg/generated/clientset/versioned/typed/janus/v1alpha1"
)

// decisionInput is what the user gave for a decision. meta carries the
// resourceVersion the user saw, so the server refuses (409) to apply the
// decision to a request that changed since.
type decisionInput struct {
	meta     metav1.ObjectMeta
	reason   string
	duration *metav1.Duration
}

// decision is one action subresource: approve, deny, revoke, extend or
// withdraw.
type decision struct {
	verb, past, short, example string
	reasonRequired             bool
	// durationUsage is the help of --duration; empty when the action takes
	// none.
	durationUsage    string
	durationRequired bool
	// phases the action applies to, for completing request names.
	phases []v1alpha1.AccessRequestPhase
	post   func(context.Context, janusv1alpha1.AccessRequestInterface, string, decisionInput) (*v1alpha1.AccessRequest, error)
}

var decisions = []decision{
	{
		verb: "approve", past: "approved",
		short:         "Approve a pending access request",
		example:       `  kubectl janus approve alice-x7k2p --reason "matches INC-1234" --duration 30m`,
		durationUsage: "Grant a shorter duration than requested.",
		phases:        []v1alpha1.AccessRequestPhase{v1alpha1.AccessRequestPending},
		post: func(ctx context.Context, c janusv1alpha1.AccessRequestInterface, name string, in decisionInput) (*v1alpha1.AccessRequest, error) {
			return c.Approve(ctx, name, &v1alpha1.Approval{ObjectMeta: in.meta, Reason: in.reason, Duration: in.duration}, createOptions)
		},
	},
	{
		verb: "deny", past: "denied",
		short:          "Deny a pending access request",
		example:        `  kubectl janus deny alice-x7k2p --reason "use the read-only dashboard"`,
		reasonRequired: true,
		phases:         []v1alpha1.AccessRequestPhase{v1alpha1.AccessRequestPending},
		post: func(ctx context.Context, c janusv1alpha1.AccessRequestInterface, name string, in decisionInput) (*v1alpha1.AccessRequest, error) {
			return c.Deny(ctx, name, &v1alpha1.Denial{ObjectMeta: in.meta, Reason: in.reason}, createOptions)
		},
	},
	{
		verb: "revoke", past: "revoked",
		short:          "Revoke an approved or active access request; live sessions are cut at once",
		example:        `  kubectl janus revoke alice-x7k2p --reason "incident closed"`,
		reasonRequired: true,
		phases:         []v1alpha1.AccessRequestPhase{v1alpha1.AccessRequestApproved, v1alpha1.AccessRequestActive},
		post: func(ctx context.Context, c janusv1alpha1.AccessRequestInterface, name string, in decisionInput) (*v1alpha1.AccessRequest, error) {
			return c.Revoke(ctx, name, &v1alpha1.Revocation{ObjectMeta: in.meta, Reason: in.reason}, createOptions)
		},
	},
	{
		verb: "extend", past: "extended",
		short:            "Extend an active access request",
		example:          `  kubectl janus extend alice-x7k2p --duration 30m --reason "migration still running"`,
		reasonRequired:   true,
		durationUsage:    "How much time to add to the expiry.",
		durationRequired: true,
		phases:           []v1alpha1.AccessRequestPhase{v1alpha1.AccessRequestActive},
		post: func(ctx context.Context, c janusv1alpha1.AccessRequestInterface, name string, in decisionInput) (*v1alpha1.AccessRequest, error) {
			ext := &v1alpha1.Extension{ObjectMeta: in.meta, Reason: in.reason}
			if in.duration != nil {
				ext.Duration = *in.duration
			}
			return c.Extend(ctx, name, ext, createOptions)
		},
	},
	{
		verb: "withdraw", past: "withdrawn",
		short:   "Withdraw your own access request; live sessions are cut at once",
		example: `  kubectl janus withdraw alice-x7k2p --reason "fixed without access"`,
		phases:  []v1alpha1.AccessRequestPhase{v1alpha1.AccessRequestPending, v1alpha1.AccessRequestApproved, v1alpha1.AccessRequestActive},
		post: func(ctx context.Context, c janusv1alpha1.AccessRequestInterface, name string, in decisionInput) (*v1alpha1.AccessRequest, error) {
			return c.Withdraw(ctx, name, &v1alpha1.Withdrawal{ObjectMeta: in.meta, Reason: in.reason}, createOptions)
		},
	},
}

var createOptions = metav1.CreateOptions{FieldManager: fieldManager}

type decisionOptions struct {
	*Options
	decision
	reason   string
	duration time.Duration
	output   *outputFlags
}

func newDecisionCommand(o *Options, d decision) *cobra.Command {
	do := &decisionOptions{Options: o, decision: d, output: newOutputFlags(d.past)}
	use := d.verb + " NAME"
	if d.durationRequired {
		use += " --duration DURATION"
	}
	if d.reasonRequired {
		use += " --reason REASON"
	} else {
		use += " [--reason REASON]"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: d.short,
		Long: d.short + `.

The decision is made on the request as this command reads it: if the request
changes in between (another decision, the grant becoming active), the server
refuses it with a Conflict and nothing is applied.`,
		Example:           d.example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRequestNames(o, d.phases...),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := do.output.validate(); err != nil {
				return err
			}
			return do.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().StringVar(&do.reason, "reason", "", fmt.Sprintf("Why the request is %s, for the requester and the audit log.", d.past))
	if d.reasonRequired {
		_ = cmd.MarkFlagRequired("reason")
	}
	if d.durationUsage != "" {
		cmd.Flags().DurationVar(&do.duration, "duration", 0, d.durationUsage)
		if d.durationRequired {
			_ = cmd.MarkFlagRequired("duration")
		}
	}
	do.output.addFlags(cmd)
	return cmd
}

func (d *decisionOptions) run(ctx context.Context, name string) error {
	c, err := d.clients()
	if err != nil {
		return err
	}
	seen, err := c.requests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	in := decisionInput{meta: metav1.ObjectMeta{ResourceVersion: seen.ResourceVersion}, reason: d.reason}
	if d.duration != 0 {
		in.duration = &metav1.Duration{Duration: d.duration}
	}
	ar, err := d.post(ctx, c.requests(), name, in)
	if err != nil {
		return withConflictHint(err, name)
	}
	if d.output.requested() {
		return d.output.print(ar, d.Out)
	}
	fmt.Fprintf(d.Out, "accessrequest/%s %s; it is %s", ar.Name, d.past, ar.Status.Phase)
	if ar.Status.Message != "" {
		fmt.Fprintf(d.Out, " (%s)", ar.Status.Message)
	}
	fmt.Fprintln(d.Out)
	return nil
}
