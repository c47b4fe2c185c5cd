package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// namespaceWatch is the target's namespaces as a watch of the agent's own
// holds them.
type namespaceWatch struct {
	lister corelisters.NamespaceLister
	synced cache.InformerSynced
}

// WatchNamespaces keeps the target's namespaces in a watch until ctx
// ends, so that a grant finds its namespaces there instead of asking the
// target's kube-apiserver, one GET per namespace per grant. It does not
// wait for the watch: until the watch has listed the namespaces, and for
// a namespace it holds as missing or being deleted, a grant reads the
// target (namespaceRefusal). Call it before the first grant, once.
func (p *Provisioner) WatchNamespaces(ctx context.Context) {
	informer := coreinformers.NewNamespaceInformer(p.client, 0, cache.Indexers{})
	p.namespaces.Store(&namespaceWatch{lister: corelisters.NewNamespaceLister(informer.GetIndexer()), synced: informer.HasSynced})
	go informer.RunWithContext(ctx)
}

// namespaceRefusal says why ns may not be granted, if the cluster does
// not have it or is deleting it, or why that could not be found out. A
// namespace the watch holds as present and not being deleted is granted
// on that: a RoleBinding in a namespace that went meanwhile is refused by
// the target's own admission. Anything else is read from the target
// (cachedFirst), so that the watch's lag never refuses a namespace that
// was just created.
func (p *Provisioner) namespaceRefusal(ctx context.Context, ns string) (string, error) {
	if w := p.namespaces.Load(); w != nil && w.synced() {
		if got, err := w.lister.Get(ns); err == nil && namespaceGone(got) == "" {
			return "", nil
		}
	}
	return cachedFirst(func(opts metav1.GetOptions) (string, error) {
		got, err := p.client.CoreV1().Namespaces().Get(ctx, ns, opts)
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Sprintf("namespace %s does not exist in this cluster", ns), nil
		case err != nil:
			return "", fmt.Errorf("looking up namespace %s: %w", ns, err)
		}
		return namespaceGone(got), nil
	})
}

// namespaceGone says so if ns is being deleted.
func namespaceGone(ns *corev1.Namespace) string {
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return fmt.Sprintf("namespace %s is being deleted", ns.Name)
	}
	return ""
}
