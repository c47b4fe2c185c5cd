package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// fieldManager owns what the testbed applies.
const fieldManager = "janus-testbed"

// applyOrder puts what other objects live in or refer to first.
var applyOrder = []string{"Namespace", "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "Service", "APIService"}

// ReadManifests decodes every object in the YAML files, in file order;
// integers stay int64, as the API machinery wants them.
func ReadManifests(paths ...string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("opening manifest: %w", err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			var raw runtime.RawExtension
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("decoding %s: %w", path, err)
			}
			if len(bytes.TrimSpace(raw.Raw)) == 0 || string(raw.Raw) == "null" {
				continue // an empty document, e.g. after a trailing ---
			}
			// Unstructured's own JSON decoding keeps integers int64.
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(raw.Raw); err != nil {
				f.Close()
				return nil, fmt.Errorf("decoding %s: %w", path, err)
			}
			objs = append(objs, obj)
		}
		f.Close()
	}
	return objs, nil
}

// manifestFiles lists the YAML files of a directory, sorted.
func manifestFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// Applier applies objects with server-side apply, as `kubectl apply
// --server-side` does, so the manifests need no client-side defaulting.
type Applier struct {
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
}

func (tb *Testbed) newApplier() (*Applier, error) {
	return NewApplier(tb.bootstrapConfig())
}

// NewApplier applies as cfg authenticates, with the resources the server
// serves now.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building dynamic client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building discovery client: %w", err)
	}
	resources, err := restmapper.GetAPIGroupResources(disco)
	if err != nil {
		return nil, fmt.Errorf("discovering API resources: %w", err)
	}
	return &Applier{dynamic: dyn, mapper: restmapper.NewDiscoveryRESTMapper(resources)}, nil
}

// Apply applies objs in applyOrder, kinds not listed there last.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	ordered := slices.Clone(objs)
	rank := func(o *unstructured.Unstructured) int {
		if i := slices.Index(applyOrder, o.GetKind()); i >= 0 {
			return i
		}
		return len(applyOrder)
	}
	slices.SortStableFunc(ordered, func(x, y *unstructured.Unstructured) int { return rank(x) - rank(y) })
	for _, obj := range ordered {
		if err := a.applyOne(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

func (a *Applier) applyOne(ctx context.Context, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("finding the resource of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var client dynamic.ResourceInterface = a.dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		client = a.dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	if _, err := client.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, qualifiedName(obj), err)
	}
	return nil
}

func qualifiedName(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}
