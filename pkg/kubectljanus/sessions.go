package kubectljanus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
	janusv1alpha1 "github.com/infroware/janus/pkg/generated/clientset/versioned/typed/janus/v1alpha1"
)

func (c *clients) sessions() janusv1alpha1.SessionInterface {
	return c.janus.JanusV1alpha1().Sessions()
}

// sessionSubresource is GET sessions/NAME/SUBRESOURCE (recording, attach).
func (c *clients) sessionSubresource(name, subresource string) *rest.Request {
	return c.janus.JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(name).SubResource(subresource)
}

type sessionsOptions struct {
	*Options
	request, user, cluster string
	open, watch            bool
	output                 *outputFlags
}

func newSessionsCommand(o *Options) *cobra.Command {
	s := &sessionsOptions{Options: o, output: newOutputFlags("")}
	cmd := &cobra.Command{
		Use:     "sessions [REQUEST] [--user USER] [--cluster CLUSTER] [--open] [-o wide|yaml|json|name] [-w]",
		Aliases: []string{"session"},
		Short:   "List exec sessions, all of them or those of one access request",
		Long: `List the Sessions Janus recorded: who ran what in which pod, under which
access request, for how long, and why it ended. Given a REQUEST, only that
request's sessions. The columns are the server's, as kubectl get sessions
shows them; -o wide adds the cluster, command, recording size and end reason.`,
		Example: `  kubectl janus sessions
  kubectl janus sessions alice-x7k2p -o wide
  kubectl janus sessions --user alice --open -w`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeRequestNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				s.request = args[0]
			}
			if err := s.validate(); err != nil {
				return err
			}
			return s.run(cmd.Context())
		},
	}
	// This --user hides kubectl's (the kubeconfig user) on this command
	// alone: here a user is whom a session belongs to, as in spec.user.
	cmd.Flags().StringVar(&s.user, "user", "", "Only the sessions of this user (the session's user; pick the kubeconfig's with --context).")
	cmd.Flags().StringVar(&s.cluster, "cluster", "", "Only sessions in this target cluster.")
	_ = cmd.RegisterFlagCompletionFunc("cluster", completeClusterNames(o))
	cmd.Flags().BoolVar(&s.open, "open", false, "Only sessions that are still open.")
	cmd.Flags().BoolVarP(&s.watch, "watch", "w", false, "After listing, keep printing sessions as they open and close.")
	s.output.addFlags(cmd)
	return cmd
}

// wide is -o wide: the server's table with its wide columns. kubectl's
// print flags do not know it; it is not one of their formats.
func (s *sessionsOptions) wide() bool { return *s.output.flags.OutputFormat == "wide" }

func (s *sessionsOptions) validate() error {
	if s.wide() {
		return nil
	}
	return s.output.validate()
}

func (s *sessionsOptions) listOptions() metav1.ListOptions {
	selector := fields.Set{}
	if s.request != "" {
		selector[v1alpha1.FieldSessionRequest] = s.request
	}
	if s.user != "" {
		selector[v1alpha1.FieldSessionUsername] = s.user
	}
	if s.cluster != "" {
		selector[v1alpha1.FieldCluster] = s.cluster
	}
	if s.open {
		selector[v1alpha1.FieldPhase] = string(v1alpha1.SessionOpen)
	}
	return metav1.ListOptions{FieldSelector: selector.AsSelector().String()}
}

func (s *sessionsOptions) run(ctx context.Context) error {
	c, err := s.clients()
	if err != nil {
		return err
	}
	opts := s.listOptions()
	if s.output.requested() && !s.wide() {
		return s.printObjects(ctx, c, opts)
	}
	table := printers.NewTablePrinter(printers.PrintOptions{Wide: s.wide()})
	t, err := c.resourceTable(ctx, "sessions", "", opts)
	if err != nil {
		return err
	}
	if len(t.Rows) == 0 && !s.watch {
		fmt.Fprintln(s.ErrOut, "No sessions found.")
		return nil
	}
	if err := table.PrintObj(t, s.Out); err != nil {
		return err
	}
	if !s.watch {
		return nil
	}
	opts.ResourceVersion = t.ResourceVersion
	return c.watchTable(ctx, "sessions", opts, func(t *metav1.Table) error { return table.PrintObj(t, s.Out) })
}

// printObjects prints the Sessions in the -o format; with -w, then each
// Session as it changes.
func (s *sessionsOptions) printObjects(ctx context.Context, c *clients, opts metav1.ListOptions) error {
	list, err := c.sessions().List(ctx, opts)
	if err != nil {
		return err
	}
	// Typed clients drop the items' kind; printed objects should carry it.
	for i := range list.Items {
		list.Items[i].SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("Session"))
	}
	if s.watch || *s.output.flags.OutputFormat == "name" {
		// Each item on its own, as kubectl get -o name (and -w) prints them.
		for i := range list.Items {
			if err := s.output.print(&list.Items[i], s.Out); err != nil {
				return err
			}
		}
	} else if err := s.output.print(list, s.Out); err != nil {
		return err
	}
	if !s.watch {
		return nil
	}
	opts.ResourceVersion = list.ResourceVersion
	w, err := c.sessions().Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Error:
				return apierrors.FromObject(ev.Object)
			case watch.Bookmark:
				continue
			}
			se, ok := ev.Object.(*v1alpha1.Session)
			if !ok {
				continue
			}
			se.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("Session"))
			if err := s.output.print(se, s.Out); err != nil {
				return err
			}
		}
	}
}

// resourceTable is the server's table (Accept as=Table) of one object of
// resource (name set) or of those opts selects.
func (c *clients) resourceTable(ctx context.Context, resource, name string, opts metav1.ListOptions) (*metav1.Table, error) {
	req := c.janus.JanusV1alpha1().RESTClient().Get().
		Resource(resource).
		SetHeader("Accept", tableAccept)
	if name != "" {
		req = req.Name(name)
	} else {
		req = req.VersionedParams(&opts, scheme.ParameterCodec)
	}
	result := req.Do(ctx)
	// Error, unlike Raw, decodes the server's Status (403, 404, ...).
	if err := result.Error(); err != nil {
		return nil, err
	}
	raw, err := result.Raw()
	if err != nil {
		return nil, err
	}
	return decodeTable(raw, resource)
}

func decodeTable(raw []byte, resource string) (*metav1.Table, error) {
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		return nil, fmt.Errorf("decoding the server's table of %s: %w", resource, err)
	}
	if table.Kind != "Table" {
		return nil, fmt.Errorf("the server answered with %q instead of a Table of %s", table.Kind, resource)
	}
	return table, nil
}

// watchTable watches resource as the server's tables, as kubectl get -w
// does, handing each event's table (its rows; after the first, often no
// column definitions) to each, until the server ends the watch or ctx
// is done.
func (c *clients) watchTable(ctx context.Context, resource string, opts metav1.ListOptions, each func(*metav1.Table) error) error {
	opts.Watch = true
	stream, err := c.janus.JanusV1alpha1().RESTClient().Get().
		Resource(resource).
		SetHeader("Accept", tableAccept).
		VersionedParams(&opts, scheme.ParameterCodec).
		Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	dec := json.NewDecoder(stream)
	for {
		var ev metav1.WatchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching %s: %w", resource, err)
		}
		switch watch.EventType(ev.Type) {
		case watch.Bookmark:
			continue
		case watch.Error:
			status := &metav1.Status{}
			if err := json.Unmarshal(ev.Object.Raw, status); err != nil {
				return fmt.Errorf("watching %s: the server ended the watch with an error it did not say", resource)
			}
			return apierrors.FromObject(status)
		}
		table, err := decodeTable(ev.Object.Raw, resource)
		if err != nil {
			return err
		}
		if err := each(table); err != nil {
			return err
		}
	}
}
