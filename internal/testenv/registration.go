package testenv

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"
)

const janusGroupVersion = "janus.infroware.io/v1alpha1"

var apiServicesResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// placeholderEndpointSlice gives the selector-less Service an endpoint, so
// the aggregator's availability check passes; the address is never dialled.
func placeholderEndpointSlice(portName string) *unstructured.Unstructured {
	slice := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      janusServiceName + "-testbed",
			Namespace: janusNamespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: janusServiceName,
				discoveryv1.LabelManagedBy:   fieldManager,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{placeholderEndpoint},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To[int32](janusServicePort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	return mustUnstructured(slice)
}

// registerAPIService applies the APIService and waits until the aggregator
// reports it Available and serves the group's discovery document.
func (tb *Testbed) registerAPIService(ctx context.Context) error {
	if err := tb.applier.Apply(ctx, []*unstructured.Unstructured{tb.artifacts.apiService}); err != nil {
		return err
	}
	if err := tb.waitAPIServiceAvailable(ctx); err != nil {
		return err
	}
	// Available comes from the availability controller, while the discovery
	// document clients read (kubectl's aggregated /apis) is refreshed by
	// another one. Wait until it lists the Janus resources too.
	disco, err := discovery.NewDiscoveryClientForConfig(tb.bootstrapConfig())
	if err != nil {
		return fmt.Errorf("building discovery client: %w", err)
	}
	return WaitUntil(ctx, "janus.infroware.io/v1alpha1 in the kube-apiserver's discovery", nil, func(context.Context) error {
		_, lists, err := disco.ServerGroupsAndResources()
		for _, list := range lists {
			if list.GroupVersion != janusGroupVersion {
				continue
			}
			served := map[string]bool{}
			for _, r := range list.APIResources {
				served[r.Name] = true
			}
			if served["accessrequests"] && served["clusters"] {
				return nil
			}
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%s is not listed yet", janusGroupVersion)
	})
}

// waitAPIServiceAvailable waits until the aggregator reports the APIService
// Available: after janus-apiserver restarts too, since an availability
// check that ran while it was down leaves the aggregator answering 503
// until the next check passes.
func (tb *Testbed) waitAPIServiceAvailable(ctx context.Context) error {
	client := tb.applier.dynamic.Resource(apiServicesResource)
	err := WaitUntil(ctx, "APIService "+janusAPIServiceName+" to be Available", nil, func(ctx context.Context) error {
		obj, err := client.Get(ctx, janusAPIServiceName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conditions {
			cond, _ := c.(map[string]interface{})
			if cond["type"] == "Available" {
				if cond["status"] == "True" {
					return nil
				}
				return fmt.Errorf("condition Available is %v: %v: %v", cond["status"], cond["reason"], cond["message"])
			}
		}
		return errors.New("no Available condition yet")
	})
	if err != nil {
		return fmt.Errorf("%w\n--- last lines of janus-apiserver.log ---\n%s", err, TailFile(tb.logPath("janus-apiserver"), logTailLines))
	}
	return nil
}

func mustUnstructured(obj runtime.Object) *unstructured.Unstructured {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(fmt.Sprintf("converting %T to unstructured: %v", obj, err))
	}
	return &unstructured.Unstructured{Object: content}
}
