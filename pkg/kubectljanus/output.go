package kubectljanus

import (
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
)

// outputFlags are kubectl's -o flags (name, yaml, json, jsonpath, ...).
// Without -o each command prints its own short human line or table.
type outputFlags struct {
	flags *genericclioptions.PrintFlags
	// printer is made once, so that several objects print as one stream
	// (YAML documents separated by ---).
	printer printers.ResourcePrinter
}

// newOutputFlags takes the past-tense verb -o name prints after the name
// ("created", "approved"); empty for reads.
func newOutputFlags(operation string) *outputFlags {
	return &outputFlags{flags: genericclioptions.NewPrintFlags(operation).WithTypeSetter(scheme.Scheme)}
}

func (f *outputFlags) addFlags(cmd *cobra.Command) { f.flags.AddFlags(cmd) }

// requested tells whether the user chose an output format.
func (f *outputFlags) requested() bool {
	return *f.flags.OutputFormat != "" ||
		(f.flags.TemplatePrinterFlags.TemplateArgument != nil && *f.flags.TemplatePrinterFlags.TemplateArgument != "")
}

// validate rejects an unknown -o before anything is sent to the server.
func (f *outputFlags) validate() error {
	if !f.requested() {
		return nil
	}
	_, err := f.flags.ToPrinter()
	return err
}

func (f *outputFlags) print(obj runtime.Object, out io.Writer) error {
	if f.printer == nil {
		printer, err := f.flags.ToPrinter()
		if err != nil {
			return err
		}
		f.printer = printer
	}
	list, ok := obj.(*v1alpha1.AccessRequestList)
	if !ok {
		return f.printer.PrintObj(obj, out)
	}
	// Typed clients drop the items' kind; a printed list should carry it.
	for i := range list.Items {
		list.Items[i].SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("AccessRequest"))
	}
	if *f.flags.OutputFormat != "name" {
		return f.printer.PrintObj(list, out)
	}
	// -o name prints each item, as kubectl get does.
	for i := range list.Items {
		if err := f.printer.PrintObj(&list.Items[i], out); err != nil {
			return err
		}
	}
	return nil
}
