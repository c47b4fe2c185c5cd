package kubectljanus

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
)

// podNamespace is the namespace of the pod an exec or logs command is for:
// -n when given; otherwise the request's namespace when it has only one,
// or the kubeconfig's namespace when the request covers it.
func (o *Options) podNamespace(ctx context.Context, c *clients, name string) (string, error) {
	if ns := o.ConfigFlags.Namespace; ns != nil && *ns != "" {
		return *ns, nil
	}
	ar, err := c.requests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if len(ar.Spec.Namespaces) == 1 {
		return ar.Spec.Namespaces[0], nil
	}
	if ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace(); err == nil && slices.Contains(ar.Spec.Namespaces, ns) {
		return ns, nil
	}
	return "", fmt.Errorf("access request %s covers namespaces %s; choose one with -n", name, strings.Join(ar.Spec.Namespaces, ", "))
}

// subresourceURL is the URL of a connect subresource (exec, log) of the
// request, with opts as its query, through the kube-apiserver.
func (c *clients) subresourceURL(name, subresource string, opts runtime.Object) *url.URL {
	return c.subresource(name, subresource, opts).URL()
}

func (c *clients) subresource(name, subresource string, opts runtime.Object) *rest.Request {
	return c.janus.JanusV1alpha1().RESTClient().Get().
		Resource("accessrequests").
		Name(name).
		SubResource(subresource).
		VersionedParams(opts, scheme.ParameterCodec)
}
