package charts

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/infroware/janus/internal/testenv"
)

// The namespaces the charts are rendered into; both enforce (and warn
// about) Pod Security "restricted".
const (
	centralNamespace = "janus"
	agentNamespace   = "janus-agent"
)

// crdKinds are the kinds of other projects the charts may render. The
// kube-apiserver has none of them, so the test installs a minimal
// CustomResourceDefinition of each (any object under spec is accepted):
// the server-side dry run then checks these objects' metadata, namespace
// and kind/version, but not their spec, which only the real CRDs could.
var crdKinds = []struct{ group, version, kind, plural string }{
	{"cert-manager.io", "v1", "Certificate", "certificates"},
	{"monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"},
	{"monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"},
	{"gateway.networking.k8s.io", "v1alpha2", "TLSRoute", "tlsroutes"},
}

// cluster is the package's etcd and kube-apiserver, with the namespaces
// and CRDs above.
var cluster = &testenv.PackageCluster{Name: "charts kube-apiserver", Prepare: prepareCluster}

func TestMain(m *testing.M) { cluster.Main(m.Run) }

// kubeCluster is the package's running kube-apiserver.
func kubeCluster(t *testing.T) *testenv.BareCluster {
	t.Helper()
	return cluster.Get(t)
}

func prepareCluster(ctx context.Context, c *testenv.BareCluster) error {
	for _, ns := range []string{centralNamespace, agentNamespace} {
		_, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: ns,
			Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": "restricted",
				"pod-security.kubernetes.io/warn":    "restricted",
			},
		}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	dyn, err := dynamic.NewForConfig(c.AdminConfig)
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, k := range crdKinds {
		crdMeta := map[string]any{"name": k.plural + "." + k.group}
		if strings.HasSuffix(k.group, ".k8s.io") {
			// Groups under k8s.io are protected; the Gateway API's own CRDs
			// carry this annotation too.
			crdMeta["annotations"] = map[string]any{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"}
		}
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   crdMeta,
			"spec": map[string]any{
				"group": k.group,
				"scope": "Namespaced",
				"names": map[string]any{"kind": k.kind, "plural": k.plural, "singular": strings.ToLower(k.kind)},
				"versions": []any{map[string]any{
					"name": k.version, "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object",
						"properties": map[string]any{
							"spec": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
						},
					}},
				}},
			},
		}}
		if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating the CRD of %s: %w", k.kind, err)
		}
	}
	disc, err := discovery.NewDiscoveryClientForConfig(c.AdminConfig)
	if err != nil {
		return err
	}
	return testenv.WaitUntil(ctx, "the CRDs to be served", nil, func(ctx context.Context) error {
		for _, k := range crdKinds {
			if _, err := disc.ServerResourcesForGroupVersion(k.group + "/" + k.version); err != nil {
				return err
			}
		}
		return nil
	})
}

// dryRunApplier applies objects with server-side apply and dryRun=All, as
// `kubectl apply --server-side --dry-run=server` does, and records every
// warning.
type dryRunApplier struct {
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	warnings *testenv.WarningRecorder
}

func newDryRunApplier(t *testing.T, c *testenv.BareCluster) *dryRunApplier {
	t.Helper()
	w := &testenv.WarningRecorder{}
	cfg := rest.CopyConfig(c.AdminConfig)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	return &dryRunApplier{dyn: dyn, mapper: restmapper.NewDiscoveryRESTMapper(groups), warnings: w}
}

func (a *dryRunApplier) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("finding the resource of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var client dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			return fmt.Errorf("%s %s has no namespace", gvk.Kind, obj.GetName())
		}
		client = a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	_, err = client.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "janus-charts-test", Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return fmt.Errorf("server-side dry run of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

// ensureServiceAccount makes the ServiceAccount for real: a Pod is
// admitted only if its ServiceAccount exists, and a dry-run one does not.
func ensureServiceAccount(ctx context.Context, c *testenv.BareCluster, namespace, name string) error {
	_, err := c.Admin.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// writeKubeconfig writes an admin kubeconfig of c, for helm install
// --dry-run, which asks the server for its version.
func writeKubeconfig(t *testing.T, c *testenv.BareCluster) string {
	t.Helper()
	cfg := c.AdminConfig
	kc := clientcmdapi.NewConfig()
	kc.Clusters["charts"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificate: cfg.CertFile, ClientKey: cfg.KeyFile,
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
	}
	kc.Contexts["charts"] = &clientcmdapi.Context{Cluster: "charts", AuthInfo: "admin"}
	kc.CurrentContext = "charts"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
