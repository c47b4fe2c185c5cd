package replicalease_test

import (
	"testing"

	"github.com/infroware/janus/internal/testenv"
)

// central is the central cluster's kube-apiserver the Leases live in,
// started by the first test that needs it and stopped by TestMain.
var central = &testenv.PackageCluster{Name: "central cluster"}

func TestMain(m *testing.M) { central.Main(m.Run) }
