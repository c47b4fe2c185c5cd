package testenv

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	janusNamespace      = "janus"
	janusServiceName    = "janus-apiserver"
	janusServiceAccount = "janus-apiserver"
	janusAPIServiceName = "v1alpha1.janus.infroware.io"
)

// workloadKinds in artifacts/central run janus-apiserver in a real cluster;
// the testbed runs it as a process instead. (e2e checks them with a
// server-side dry run.)
var workloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Pod": true, "PersistentVolumeClaim": true,
}

// centralArtifacts are the manifests of artifacts/central as the testbed
// applies them.
type centralArtifacts struct {
	// objects are applied as they are: namespace, ServiceAccount, RBAC, and
	// the Service adapted to loopback.
	objects []*unstructured.Unstructured
	// apiService is applied once janus-apiserver is serving.
	apiService *unstructured.Unstructured
	// servicePortName names the Service port the APIService uses; the
	// EndpointSlice must carry the same name.
	servicePortName string
}

// loadCentralArtifacts reads artifacts/central/*.yaml and adapts the
// Service and APIService to the testbed: the Service gets the loopback
// ClusterIP janus-apiserver listens on and no selector (there are no pods),
// the APIService the CA of the serving certificate.
func (tb *Testbed) loadCentralArtifacts() (*centralArtifacts, error) {
	dir := filepath.Join(tb.cfg.RepoRoot, "artifacts", "central")
	files, err := manifestFiles(dir)
	if err != nil {
		return nil, err
	}
	objs, err := ReadManifests(files...)
	if err != nil {
		return nil, err
	}
	arts := &centralArtifacts{}
	for _, obj := range objs {
		switch {
		case strings.HasPrefix(obj.GetAPIVersion(), "audit.k8s.io/"):
			// The audit policy configures kube-apiserver; it is not an object.
		case workloadKinds[obj.GetKind()]:
		case obj.GetKind() == "Service" && obj.GetName() == janusServiceName:
			name, err := adaptServiceToLoopback(obj, tb.janusIP.String())
			if err != nil {
				return nil, fmt.Errorf("adapting Service %s from %s: %w", janusServiceName, dir, err)
			}
			arts.servicePortName = name
			arts.objects = append(arts.objects, obj)
		case obj.GetKind() == "APIService" && obj.GetName() == janusAPIServiceName && tb.cfg.SelfManagedTLS:
			arts.apiService = obj
		case obj.GetKind() == "APIService" && obj.GetName() == janusAPIServiceName:
			if err := setCABundle(obj, tb.pki.janusCA.CertPEM); err != nil {
				return nil, fmt.Errorf("adapting APIService %s from %s: %w", janusAPIServiceName, dir, err)
			}
			arts.apiService = obj
		default:
			arts.objects = append(arts.objects, obj)
		}
	}
	if arts.apiService == nil {
		return nil, fmt.Errorf("no APIService %s in %s", janusAPIServiceName, dir)
	}
	if arts.servicePortName == "" {
		return nil, fmt.Errorf("no Service %s with port %d in %s", janusServiceName, janusServicePort, dir)
	}
	return arts, nil
}

// adaptServiceToLoopback turns the Service into one without selector at
// clusterIP, and returns the name of its port janusServicePort.
func adaptServiceToLoopback(svc *unstructured.Unstructured, clusterIP string) (string, error) {
	unstructured.RemoveNestedField(svc.Object, "spec", "selector")
	if err := unstructured.SetNestedField(svc.Object, clusterIP, "spec", "clusterIP"); err != nil {
		return "", err
	}
	ports, _, err := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if err != nil {
		return "", err
	}
	for _, p := range ports {
		port, _ := p.(map[string]interface{})
		if n, _, _ := unstructured.NestedInt64(port, "port"); n == janusServicePort {
			name, _, _ := unstructured.NestedString(port, "name")
			if name == "" {
				return "", fmt.Errorf("port %d needs a name for the EndpointSlice", janusServicePort)
			}
			return name, nil
		}
	}
	return "", fmt.Errorf("no port %d", janusServicePort)
}

func setCABundle(apiService *unstructured.Unstructured, caPEM []byte) error {
	unstructured.RemoveNestedField(apiService.Object, "spec", "insecureSkipTLSVerify")
	return unstructured.SetNestedField(apiService.Object, base64.StdEncoding.EncodeToString(caPEM), "spec", "caBundle")
}

// applyArtifacts applies artifacts/central (but the APIService), the demo
// users' RBAC, and the Service's placeholder EndpointSlice.
func (tb *Testbed) applyArtifacts(ctx context.Context) error {
	arts, err := tb.loadCentralArtifacts()
	if err != nil {
		return err
	}
	tb.artifacts = arts
	examples, err := ReadManifests(filepath.Join(tb.cfg.RepoRoot, "artifacts", "examples", "approver-for-dev.yaml"))
	if err != nil {
		return err
	}
	a, err := tb.newApplier()
	if err != nil {
		return err
	}
	tb.applier = a
	objs := append(append(arts.objects, examples...), demoBindings()...)
	objs = append(objs, placeholderEndpointSlice(arts.servicePortName))
	return a.Apply(ctx, objs)
}
