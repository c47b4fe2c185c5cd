package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"

	"github.com/infroware/janus/pkg/apis/janus/fuzzer"
)

// TestRoundTripTypes converts random objects of every kind to v1alpha1 and
// back, in JSON and YAML, and requires them unchanged.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, fuzzer.Funcs)
}
