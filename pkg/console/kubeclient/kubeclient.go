package kubeclient

import (
	"context"
	"errors"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/console/signin"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// Factory makes clients that act as a signed-in person: by impersonation
// with the console's own credentials, or with the person's own ID token.
type Factory struct {
	base      *rest.Config
	withToken bool
}

// NewFactory returns a Factory that impersonates with the console's own
// configuration; any impersonation it holds is replaced on each client.
func NewFactory(base *rest.Config) *Factory {
	return &Factory{base: rest.CopyConfig(base)}
}

// NewTokenFactory returns a Factory that calls kube-apiserver with each
// person's own ID token (--kube-auth=token), for a kube-apiserver that
// trusts the console's issuer. Only the address and CA of base are used:
// the console's own credentials, if any, are dropped.
func NewTokenFactory(base *rest.Config) *Factory {
	anonymous := rest.AnonymousClientConfig(base)
	return &Factory{base: anonymous, withToken: true}
}

// Clients are the API clients of one person.
type Clients struct {
	Janus versioned.Interface
	Kube  kubernetes.Interface
}

// ConfigFor is the console's configuration impersonating id.
func (f *Factory) ConfigFor(id signin.Identity) (*rest.Config, error) {
	if id.Username == "" {
		return nil, errors.New("impersonating nobody: the identity has no username")
	}
	cfg := rest.CopyConfig(f.base)
	if f.withToken {
		if id.Token == "" {
			return nil, fmt.Errorf("acting as %s: the session holds no ID token; sign in again", id.Username)
		}
		cfg.BearerToken = id.Token
		return cfg, nil
	}
	extra := map[string][]string{}
	for k, v := range id.Extra {
		extra[k] = append([]string(nil), v...)
	}
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: id.Username,
		UID:      id.UID,
		Groups:   append([]string(nil), id.Groups...),
		Extra:    extra,
	}
	return cfg, nil
}

// For returns the clients acting as id.
func (f *Factory) For(id signin.Identity) (*Clients, error) {
	cfg, err := f.ConfigFor(id)
	if err != nil {
		return nil, err
	}
	janus, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Janus client for %s: %w", id.Username, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client for %s: %w", id.Username, err)
	}
	return &Clients{Janus: janus, Kube: kube}, nil
}

// CanApprove asks the API whether the person may decide requests for the
// cluster: verb approve on clusters/<name> in janus.infroware.io. It only
// decides which buttons to show; the API decides again on every POST.
func (c *Clients) CanApprove(ctx context.Context, cluster string) (bool, error) {
	review, err := c.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: "janus.infroware.io", Resource: "clusters", Name: cluster, Verb: "approve",
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("asking whether you may approve for cluster %s: %w", cluster, err)
	}
	return review.Status.Allowed, nil
}
