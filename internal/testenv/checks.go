package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/install"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// WarningRecorder is a rest.WarningHandler that keeps every warning an API
// server sent, Pod Security's among them.
type WarningRecorder struct {
	mu   sync.Mutex
	seen []string
}

// HandleWarningHeader records text.
func (w *WarningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

// Warnings returns the warnings recorded so far.
func (w *WarningRecorder) Warnings() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// DecodeCluster reads data (JSON) as a janus.infroware.io/v1alpha1
// Cluster, refusing unknown fields, and validates it, defaulted, as
// janus-apiserver would on create. The Cluster is returned even when it is
// invalid, with the error.
func DecodeCluster(data []byte) (*v1alpha1.Cluster, error) {
	var versioned v1alpha1.Cluster
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&versioned); err != nil {
		return nil, fmt.Errorf("not a v1alpha1 Cluster: %w", err)
	}
	if versioned.APIVersion != v1alpha1.SchemeGroupVersion.String() || versioned.Kind != "Cluster" {
		return &versioned, fmt.Errorf("a %s %s, not a Cluster", versioned.APIVersion, versioned.Kind)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	scheme.Default(&versioned)
	var internal janus.Cluster
	if err := scheme.Convert(&versioned, &internal, nil); err != nil {
		return &versioned, fmt.Errorf("converting the Cluster: %w", err)
	}
	if errs := validation.ValidateCluster(&internal); len(errs) > 0 {
		return &versioned, fmt.Errorf("invalid: %w", errs.ToAggregate())
	}
	return &versioned, nil
}
