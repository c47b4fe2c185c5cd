package logging

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/component-base/featuregate"
	logsapi "k8s.io/component-base/logs/api/v1"
	// The json format of --logging-format.
	_ "k8s.io/component-base/logs/json/register"
)

// Options are the logging flags of a command.
type Options struct {
	Config *logsapi.LoggingConfiguration
}

// NewOptions returns the defaults: text, verbosity 0.
func NewOptions() *Options {
	return &Options{Config: logsapi.NewLoggingConfiguration()}
}

// AddFlags registers --logging-format, -v, --vmodule and the other flags
// of the logs API.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	logsapi.AddFlags(o.Config, fs)
}

// Apply validates the flags and configures klog with them under gate (nil
// for a command without feature gates of its own), then sends logrus's
// output to klog. Call it once, before the command logs anything that
// matters.
func (o *Options) Apply(gate featuregate.FeatureGate) error {
	if gate == nil {
		own := featuregate.NewFeatureGate()
		if err := logsapi.AddFeatureGates(own); err != nil {
			return fmt.Errorf("adding the logging feature gates: %w", err)
		}
		gate = own
	}
	if err := logsapi.ValidateAndApply(o.Config, gate); err != nil {
		return fmt.Errorf("applying the logging flags: %w", err)
	}
	RouteLogrusToKlog()
	return nil
}
