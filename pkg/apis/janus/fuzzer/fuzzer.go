// Package fuzzer fills janus.infroware.io objects with random values that
// survive defaulting, for the scheme's round-trip tests.
package fuzzer

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/infroware/janus/pkg/apis/janus"
)

// Funcs returns the fuzzer functions of the janus API group.
var Funcs = func(_ runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(s *janus.AccessRequestSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			// A zero duration is defaulted to one hour on decode.
			s.Duration = metav1.Duration{Duration: time.Duration(1+c.Intn(480)) * time.Minute}
		},
		func(p *janus.ApprovalPolicy, c randfill.Continue) {
			p.Required = int32(1 + c.Intn(5))
		},
		func(o *janus.AccessRequestExecOptions, c randfill.Continue) {
			c.FillNoCustom(o)
			// With no stream attached, stdout is attached on decode.
			o.Stdout = true
		},
	}
}
