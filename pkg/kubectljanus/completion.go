package kubectljanus

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// completeRequestNames completes the first argument with the names of the
// AccessRequests the user may list, only those in one of phases when any
// are given (approve offers pending requests, exec active ones).
func completeRequestNames(o *Options, phases ...v1alpha1.AccessRequestPhase) cobra.CompletionFunc {
	return completeFirstArg(o, func(ctx context.Context, c *clients, toComplete string) ([]cobra.Completion, error) {
		list, err := c.requests().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var names []cobra.Completion
		for _, ar := range list.Items {
			if strings.HasPrefix(ar.Name, toComplete) && (len(phases) == 0 || slices.Contains(phases, ar.Status.Phase)) {
				names = append(names, cobra.CompletionWithDesc(ar.Name, string(ar.Status.Phase)+" "+ar.Spec.Cluster+" "+ar.Spec.Requester.Username))
			}
		}
		return names, nil
	})
}

// completeSessionNames completes the first argument with the names of the
// Sessions the user may list, only those in one of phases when any are
// given (follow and terminate offer open sessions, verify closed ones).
func completeSessionNames(o *Options, phases ...v1alpha1.SessionPhase) cobra.CompletionFunc {
	return completeFirstArg(o, func(ctx context.Context, c *clients, toComplete string) ([]cobra.Completion, error) {
		var opts metav1.ListOptions
		if len(phases) == 1 {
			opts.FieldSelector = fields.OneTermEqualSelector(v1alpha1.FieldPhase, string(phases[0])).String()
		}
		list, err := c.sessions().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		var names []cobra.Completion
		for _, se := range list.Items {
			if strings.HasPrefix(se.Name, toComplete) && (len(phases) == 0 || slices.Contains(phases, se.Status.Phase)) {
				names = append(names, cobra.CompletionWithDesc(se.Name,
					string(se.Status.Phase)+" "+se.Spec.User.Username+" "+se.Spec.Cluster+" "+se.Spec.Namespace+"/"+se.Spec.Pod))
			}
		}
		return names, nil
	})
}

// completeFirstArg completes a command's first argument with what names
// offers for it, and nothing (not even file names) after it.
func completeFirstArg(o *Options, names func(ctx context.Context, c *clients, toComplete string) ([]cobra.Completion, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := o.clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		offered, err := names(completionContext(cmd), c, toComplete)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return offered, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeClusterNames completes --cluster with the registered Clusters.
func completeClusterNames(o *Options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := o.clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx := completionContext(cmd)
		list, err := c.janus.JanusV1alpha1().Clusters().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []cobra.Completion
		for _, cl := range list.Items {
			if strings.HasPrefix(cl.Name, toComplete) {
				names = append(names, cobra.CompletionWithDesc(cl.Name, cl.Spec.DisplayName))
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionContext is the command's context; cobra leaves it unset when
// the shell asks for completions outside ExecuteContext.
func completionContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
