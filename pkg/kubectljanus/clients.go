package kubectljanus

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	janusv1alpha1 "github.com/infroware/janus/pkg/generated/clientset/versioned/typed/janus/v1alpha1"
)

// clients reach the central kube-apiserver as the kubeconfig's user.
type clients struct {
	config *rest.Config
	janus  versioned.Interface
	kube   kubernetes.Interface
}

func (o *Options) clients() (*clients, error) {
	config, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	janus, err := versioned.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building the Janus client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	return &clients{config: config, janus: janus, kube: kube}, nil
}

func (c *clients) requests() janusv1alpha1.AccessRequestInterface {
	return c.janus.JanusV1alpha1().AccessRequests()
}

// currentUser asks the server who the kubeconfig (and --as) makes us, the
// same identity Janus stamps into spec.requester.
func (c *clients) currentUser(ctx context.Context) (string, error) {
	review, err := c.kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return review.Status.UserInfo.Username, nil
}
