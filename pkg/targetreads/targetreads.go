package targetreads

import (
	"context"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
	janusv1alpha1 "github.com/infroware/janus/pkg/generated/clientset/versioned/typed/janus/v1alpha1"
)

// Pods lists the pods of opts.Namespace under the AccessRequest name.
func Pods(ctx context.Context, c janusv1alpha1.JanusV1alpha1Interface, name string, opts *v1alpha1.AccessRequestPodsOptions) (*v1alpha1.AccessRequestPodList, error) {
	list := &v1alpha1.AccessRequestPodList{}
	err := c.RESTClient().Get().
		Resource("accessrequests").Name(name).SubResource("pods").
		VersionedParams(opts, scheme.ParameterCodec).
		Do(ctx).Into(list)
	return list, err
}

// Events lists the Events of opts.Namespace (or of opts.Pod in it), newest
// first, under the AccessRequest name.
func Events(ctx context.Context, c janusv1alpha1.JanusV1alpha1Interface, name string, opts *v1alpha1.AccessRequestEventsOptions) (*v1alpha1.AccessRequestEventList, error) {
	list := &v1alpha1.AccessRequestEventList{}
	err := c.RESTClient().Get().
		Resource("accessrequests").Name(name).SubResource("events").
		VersionedParams(opts, scheme.ParameterCodec).
		Do(ctx).Into(list)
	return list, err
}
