package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

const (
	// minTokenLifetime is the shortest token TokenRequest issues. A grant's
	// end is enforced by removing its ServiceAccount, which invalidates the
	// token (within the kube-apiserver's 10 s token cache); the token's own
	// expiry is only the backstop.
	minTokenLifetime = 10 * time.Minute
	// undoTimeout bounds the clean-up of a failed grant, which runs even
	// when the caller has given up.
	undoTimeout = 30 * time.Second
	// reconcileParallelism is how many grants a reconcile ensures at once.
	reconcileParallelism = 4
)

// DefaultExcludedNamespaces may never be granted. The agent's own namespace
// is always added to them.
var DefaultExcludedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Provisioner makes, refreshes and removes grants in the target cluster.
// It is safe for concurrent use; the work on each request is serialised.
type Provisioner struct {
	client    kubernetes.Interface
	namespace string
	excluded  sets.Set[string]
	kinds     grantKinds
	now       func() time.Time
	tokens    *tokenStore
	locks     *requestLocks
	made      *madeObjects
	// namespaces, once WatchNamespaces has started, is the watch a grant
	// finds its namespaces in.
	namespaces atomic.Pointer[namespaceWatch]
}

// NewProvisioner returns a provisioner that works through client, keeps
// the grants' ServiceAccounts in namespace (the agent's own) and never
// grants access to the excluded namespaces or to namespace itself: exec
// there would reach the agent and every grant's credentials.
func NewProvisioner(client kubernetes.Interface, namespace string, excludedNamespaces []string) *Provisioner {
	excluded := sets.New(excludedNamespaces...)
	excluded.Insert(namespace)
	return &Provisioner{
		client:    client,
		namespace: namespace,
		excluded:  excluded,
		kinds:     newGrantKinds(client, namespace),
		now:       time.Now,
		tokens:    newTokenStore(time.Now),
		locks:     newRequestLocks(),
		made:      newMadeObjects(),
	}
}

// Token returns the bearer token of request's grant while it is valid. It
// is for the exec and log streams the agent forwards, and must never leave
// the agent.
func (p *Provisioner) Token(request string) (string, bool) {
	t, ok := p.tokens.get(request)
	return t.value, ok
}

// Ensure makes the grant spec asks for, or brings an existing one in line
// with it and mints a fresh token (after an extension, say). Namespaces the
// agent's policy forbids or the cluster does not have are refused before
// anything is made. If a step fails or the grant is refused, what this
// call made is undone, and so is the rest of the grant unless an earlier
// Ensure left a working one.
func (p *Provisioner) Ensure(ctx context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error) {
	if err := checkGrantSpec(spec); err != nil {
		return tunnel.GrantStatus{}, fmt.Errorf("granting %s: %w", spec.Request, err)
	}
	defer p.locks.lock(spec.Request)()

	_, hadToken := p.tokens.get(spec.Request)
	var done undoList
	began := time.Now()
	stale, err := p.check(ctx, spec)
	checked := timeStep(stepCheck, began)
	if err == nil {
		err = p.grant(ctx, spec, stale, &done)
	}
	if err != nil {
		// A grant without a token is of no use to anyone, so unless the
		// previous one still works, nothing of it may stay behind.
		removeAll := !hadToken || done.madeServiceAccount
		if undoErr := p.undo(ctx, spec.Request, &done, removeAll); undoErr != nil {
			err = fmt.Errorf("%w (undoing the partial grant failed as well, the next reconcile removes what is left: %v)", err, undoErr)
		}
		klog.InfoS("Grant failed", "request", spec.Request, "namespaces", spec.Namespaces, "refused", IsRefused(err), "err", err)
		return tunnel.GrantStatus{}, fmt.Errorf("granting %s: %w", spec.Request, err)
	}

	name := grantName(spec.Request)
	status := tunnel.GrantStatus{Request: spec.Request, Grants: make([]tunnel.Grant, 0, len(spec.Namespaces))}
	for _, ns := range spec.Namespaces {
		status.Grants = append(status.Grants, tunnel.Grant{
			Namespace:      ns,
			ServiceAccount: p.namespace + "/" + name,
			// A ClusterRole, bound in the namespace by RoleBinding.
			Role:        GrantClusterRole,
			RoleBinding: name,
		})
	}
	token, _ := p.tokens.get(spec.Request)
	klog.InfoS("Granted", "request", spec.Request, "requester", spec.Requester, "namespaces", spec.Namespaces,
		"expiresAt", spec.ExpiresAt.UTC().Format(time.RFC3339), "tokenExpiresAt", token.expiresAt.UTC().Format(time.RFC3339))
	klog.V(4).InfoS("Grant timing", "request", spec.Request, "check", checked, "total", time.Since(began))
	return status, nil
}

// check reads what a grant depends on, all at once: whether the agent's
// policy and the cluster allow it (refuse), and the request's RoleBindings
// in namespaces the grant no longer covers, which it returns.
func (p *Provisioner) check(ctx context.Context, spec tunnel.GrantSpec) (stale []labelledObject, err error) {
	var refused, listed error
	var wg sync.WaitGroup
	wg.Go(func() { refused = p.refuse(ctx, spec) })
	wg.Go(func() { stale, listed = p.staleBindings(ctx, spec) })
	wg.Wait()
	if refused != nil {
		return nil, refused
	}
	return stale, listed
}

// refuse checks the grant against the agent's policy and the cluster: the
// ClusterRole to bind is as shipped, and no namespace is excluded, missing
// or being deleted. The lookups go out at once.
func (p *Provisioner) refuse(ctx context.Context, spec tunnel.GrantSpec) error {
	var roleErr error
	refusals := make([]string, len(spec.Namespaces))
	lookupErrs := make([]error, len(spec.Namespaces))
	var wg sync.WaitGroup
	wg.Go(func() { roleErr = p.checkGrantClusterRole(ctx) })
	for i, ns := range spec.Namespaces {
		if p.excluded.Has(ns) {
			refusals[i] = fmt.Sprintf("namespace %s is excluded by this cluster's Janus agent", ns)
			continue
		}
		wg.Go(func() { refusals[i], lookupErrs[i] = p.namespaceRefusal(ctx, ns) })
	}
	wg.Wait()
	if roleErr != nil {
		return roleErr
	}
	if err := errors.Join(lookupErrs...); err != nil {
		return err
	}
	refusals = slices.DeleteFunc(refusals, func(r string) bool { return r == "" })
	if len(refusals) > 0 {
		return refusedf("%s", strings.Join(refusals, "; "))
	}
	return nil
}

// checkGrantClusterRole makes sure that the ClusterRole every grant binds
// exists and gives exactly GrantRules: a binding to a missing ClusterRole
// grants nothing, and one to a widened ClusterRole more than Janus
// promises. Only the cluster's administrators can fix either, so both are
// refusals that say how.
func (p *Provisioner) checkGrantClusterRole(ctx context.Context) error {
	refusal, err := cachedFirst(func(opts metav1.GetOptions) (string, error) { return p.grantClusterRoleRefusal(ctx, opts) })
	switch {
	case err != nil:
		return err
	case refusal != "":
		return refusedf("%s", refusal)
	}
	return nil
}

// cachedFirst decides with check, which reads with opts, on what the
// target's watch cache holds (resourceVersion 0): that read does not go
// to etcd. Only a refusal (a non-zero first result) or an error is read
// again, consistently, and decided on that: a namespace or ClusterRole
// that was just created or fixed is never refused for the cache's lag.
// What the cache says is fine may have changed in the last milliseconds
// — as it may right after any read: a RoleBinding binds the ClusterRole
// by name, so a later change to it reaches every grant in any case, and
// a RoleBinding in a namespace that is gone or going is refused by the
// target's own admission.
func cachedFirst[R comparable](check func(opts metav1.GetOptions) (R, error)) (R, error) {
	var zero R
	if r, err := check(metav1.GetOptions{ResourceVersion: "0"}); err == nil && r == zero {
		return r, nil
	}
	return check(metav1.GetOptions{})
}

// grantClusterRoleRefusal reads the ClusterRole with opts and says why it
// may not be bound, if it may not, or why it could not be read.
func (p *Provisioner) grantClusterRoleRefusal(ctx context.Context, opts metav1.GetOptions) (string, error) {
	role, err := p.client.RbacV1().ClusterRoles().Get(ctx, GrantClusterRole, opts)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("ClusterRole %s is missing: apply artifacts/agent/rbac.yaml", GrantClusterRole), nil
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("the agent may not read ClusterRole %s: apply artifacts/agent/rbac.yaml", GrantClusterRole), nil
	case err != nil:
		return "", fmt.Errorf("reading ClusterRole %s: %w", GrantClusterRole, err)
	}
	have, want := permissions(role.Rules), permissions(GrantRules())
	if !have.Equal(want) {
		return fmt.Sprintf("ClusterRole %s does not hold exactly the grant rules (extra %v, missing %v): apply artifacts/agent/rbac.yaml",
			GrantClusterRole, sets.List(have.Difference(want)), sets.List(want.Difference(have))), nil
	}
	return "", nil
}

// grant makes or updates every object of the grant and deletes its stale
// RoleBindings, all at once — a RoleBinding names its ServiceAccount and
// need not wait for it —, then mints its token. Everything it creates is
// recorded in done, and once the grant works, every object of it in
// p.made.
func (p *Provisioner) grant(ctx context.Context, spec tunnel.GrantSpec, stale []labelledObject, done *undoList) error {
	var mu sync.Mutex
	var made []madeObject
	keep := func(kind grantKind, namespace, name string, uid types.UID) {
		mu.Lock()
		defer mu.Unlock()
		made = append(made, madeObject{kind: kind, namespace: namespace, name: name, uid: uid})
	}
	var steps []func() error
	for _, o := range stale {
		steps = append(steps, func() error { return deleteObject(ctx, p.kinds.roleBindings, o.namespace, o.name) })
	}
	sa := grantServiceAccount(spec, p.namespace)
	steps = append(steps, func() error {
		created, uid, err := ensureObject(ctx, p.client.CoreV1().ServiceAccounts(p.namespace), p.kinds.serviceAccounts.name, sa, updateServiceAccount)
		if created {
			done.add(p.kinds.serviceAccounts, p.namespace, sa.Name)
		}
		if err != nil {
			return fmt.Errorf("creating serviceaccount in %s: %w", p.namespace, err)
		}
		keep(p.kinds.serviceAccounts, p.namespace, sa.Name, uid)
		return nil
	})
	for _, ns := range spec.Namespaces {
		binding := grantRoleBinding(spec, ns, p.namespace)
		steps = append(steps, func() error {
			created, uid, err := ensureObject(ctx, p.client.RbacV1().RoleBindings(ns), p.kinds.roleBindings.name, binding, updateRoleBinding)
			if created {
				done.add(p.kinds.roleBindings, ns, binding.Name)
			}
			if err != nil {
				return fmt.Errorf("creating rolebinding in %s: %w", ns, err)
			}
			keep(p.kinds.roleBindings, ns, binding.Name, uid)
			return nil
		})
	}
	began := time.Now()
	err := concurrently(steps...)
	objects := timeStep(stepObjects, began)
	if err != nil {
		return err
	}

	began = time.Now()
	token, err := p.mintToken(ctx, spec)
	minted := timeStep(stepToken, began)
	if err != nil {
		return err
	}
	klog.V(4).InfoS("Grant objects and token timing", "request", spec.Request, "objects", objects, "token", minted)
	p.tokens.put(spec.Request, token)
	p.made.put(spec.Request, made)
	return nil
}

// staleBindings lists the request's RoleBindings in namespaces the grant
// does not cover. A request's namespaces never change, so these can only
// be leftovers of an earlier request of the same name, written long ago:
// the list is read from the target's watch cache (resourceVersion 0),
// which does not wait, as a consistent list does, for the cache to catch
// up with etcd (tens of milliseconds, up to the 100 ms between progress
// requests, on a loopback testbed).
func (p *Provisioner) staleBindings(ctx context.Context, spec tunnel.GrantSpec) ([]labelledObject, error) {
	kind := p.kinds.roleBindings
	objs, err := kind.list(ctx, metav1.ListOptions{LabelSelector: grantSelector(spec.Request), ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("listing %ss of %s: %w", kind.name, spec.Request, err)
	}
	return slices.DeleteFunc(objs, func(o labelledObject) bool { return slices.Contains(spec.Namespaces, o.namespace) }), nil
}

// concurrently runs every step at once and joins their errors: the calls
// one grant makes to the target cluster need not wait for one another.
func concurrently(steps ...func() error) error {
	if len(steps) == 1 {
		return steps[0]()
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// mintToken asks TokenRequest for a token of the grant's ServiceAccount
// that lasts until the grant ends, for the target API server's own
// audience.
func (p *Provisioner) mintToken(ctx context.Context, spec tunnel.GrantSpec) (mintedToken, error) {
	lifetime := max(spec.ExpiresAt.Sub(p.now()), minTokenLifetime)
	seconds := int64(math.Ceil(lifetime.Seconds()))
	name := grantName(spec.Request)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}
	minted, err := p.client.CoreV1().ServiceAccounts(p.namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return mintedToken{}, fmt.Errorf("minting a token for serviceaccount %s/%s: %w", p.namespace, name, err)
	}
	return mintedToken{
		value:     minted.Status.Token,
		expiresAt: minted.Status.ExpirationTimestamp.Time,
		mintedAt:  p.now(),
	}, nil
}

// undoList is what one Ensure created, in order; the steps of a grant
// add to it concurrently.
type undoList struct {
	mu                 sync.Mutex
	steps              []undoStep
	madeServiceAccount bool
}

type undoStep struct {
	kind            grantKind
	namespace, name string
}

func (u *undoList) add(kind grantKind, namespace, name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.steps = append(u.steps, undoStep{kind: kind, namespace: namespace, name: name})
	if kind.name == serviceAccountKind {
		u.madeServiceAccount = true
	}
}

// undo deletes what a failed Ensure created, newest first, and with
// removeAll everything else labelled for the request and its token too. It
// goes on after ctx ends: a caller giving up must not leave half a grant.
func (p *Provisioner) undo(ctx context.Context, request string, done *undoList, removeAll bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var errs []error
	for _, step := range slices.Backward(done.steps) {
		errs = append(errs, deleteObject(ctx, step.kind, step.namespace, step.name))
	}
	if removeAll {
		p.tokens.forget(request)
		errs = append(errs, p.removeObjects(ctx, request))
	}
	return errors.Join(errs...)
}

// Remove deletes the request's ServiceAccount and its RoleBindings in
// every namespace and forgets its token. A grant that is gone already is
// no error.
func (p *Provisioner) Remove(ctx context.Context, request string) error {
	if err := checkRequestName(request); err != nil {
		return fmt.Errorf("removing grant %s: %w", request, err)
	}
	defer p.locks.lock(request)()
	p.tokens.forget(request)
	if err := p.removeObjects(ctx, request); err != nil {
		return fmt.Errorf("removing grant %s: %w", request, err)
	}
	klog.InfoS("Removed grant", "request", request)
	return nil
}

// removeObjects deletes everything of request's grant. The objects this
// agent made are deleted first, at once, by name and UID, without a list
// before them: that is when the access ends. If the agent made the whole
// grant (p.made holds its ServiceAccount and a RoleBinding in each of its
// namespaces) and every one of those deletions is answered for sure —
// deleted, or gone already —, the removal is confirmed by those answers:
// a grant's objects have fixed names in fixed namespaces, and the
// RoleBindings of an earlier request of the same name in other namespaces
// were deleted when the grant was made (staleBindings). Otherwise — the
// agent restarted since, the grant failed half-way, or an object was
// replaced by one of another UID — a sweep lists everything labelled for
// the request, consistently, and deletes what it finds, so that leftovers
// of a crash or of an earlier agent go too; the removal is confirmed only
// once it is done. (Sweeping while the first deletions are under way
// would delete most objects twice, which a burst of expiries pays for.)
// A sweep is two consistent LISTs of the target's kube-apiserver, one
// across all namespaces: as many calls as the rest of the removal.
func (p *Provisioner) removeObjects(ctx context.Context, request string) error {
	made := p.made.take(request)
	vouched := len(made) > 0
	var madeErr error
	var deleted time.Duration
	if len(made) > 0 {
		var unsure atomic.Bool
		deletions := make([]func() error, 0, len(made))
		for _, obj := range made {
			deletions = append(deletions, func() error {
				gone, err := deleteMade(ctx, obj)
				if !gone {
					unsure.Store(true)
				}
				return err
			})
		}
		began := time.Now()
		madeErr = concurrently(deletions...)
		deleted = timeStep(stepDelete, began)
		vouched = !unsure.Load()
	}
	if vouched {
		klog.V(4).InfoS("Removal timing", "request", request, "delete", deleted)
		return nil
	}
	began := time.Now()
	sweepErr := p.sweep(ctx, request)
	swept := timeStep(stepSweep, began)
	klog.V(4).InfoS("Removal timing", "request", request, "delete", deleted, "sweep", swept)
	return errors.Join(madeErr, sweepErr)
}

// sweep deletes everything labelled for request. The kinds are listed at
// once, and then everything found is deleted at once: the
// ServiceAccount's deletion, which invalidates every token minted for it,
// never waits for a RoleBinding's, and one that fails stops none of the
// others.
func (p *Provisioner) sweep(ctx context.Context, request string) error {
	kinds := p.kinds.all()
	found := make([][]labelledObject, len(kinds))
	listed := make([]func() error, len(kinds))
	for i, kind := range kinds {
		listed[i] = func() (err error) {
			if found[i], err = kind.list(ctx, metav1.ListOptions{LabelSelector: grantSelector(request)}); err != nil {
				return fmt.Errorf("listing %ss of %s: %w", kind.name, request, err)
			}
			return nil
		}
	}
	listErr := concurrently(listed...)
	var deletions []func() error
	for i, kind := range kinds {
		for _, o := range found[i] {
			deletions = append(deletions, func() error { return deleteObject(ctx, kind, o.namespace, o.name) })
		}
	}
	if len(deletions) == 0 {
		return listErr
	}
	return errors.Join(listErr, concurrently(deletions...))
}

// Reconcile makes the cluster hold exactly the grants in req.Active: it
// removes everything Janus labelled for any other request, then ensures
// every active grant. The error is for when the agent cannot even tell what
// is there; the failures of single grants are in the result.
func (p *Provisioner) Reconcile(ctx context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error) {
	started := p.now()
	var result tunnel.ReconcileResult
	active := sets.New[string]()
	for _, spec := range req.Active {
		active.Insert(spec.Request)
	}

	present, err := p.grantedRequests(ctx)
	if err != nil {
		return result, fmt.Errorf("listing what Janus created in this cluster: %w", err)
	}
	present = present.Union(p.tokens.requests())
	fail := func(request, message string) {
		if result.Failed == nil {
			result.Failed = map[string]string{}
		}
		result.Failed[request] = message
	}
	for _, request := range sets.List(present.Difference(active)) {
		removed, err := p.removeUnlessGrantedSince(ctx, request, started)
		switch {
		case err != nil:
			fail(request, err.Error())
		case removed:
			result.Removed = append(result.Removed, request)
		}
	}

	ensured := make([]error, len(req.Active))
	var wg sync.WaitGroup
	slots := make(chan struct{}, reconcileParallelism)
	for i, spec := range req.Active {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			_, ensured[i] = p.Ensure(ctx, spec)
		})
	}
	wg.Wait()
	for i, spec := range req.Active {
		if ensured[i] != nil {
			fail(spec.Request, ensured[i].Error())
			continue
		}
		result.Ensured = append(result.Ensured, spec.Request)
	}
	klog.InfoS("Reconciled", "active", len(req.Active), "removed", result.Removed, "ensured", len(result.Ensured), "failed", len(result.Failed))
	return result, nil
}

// removeUnlessGrantedSince removes request's grant unless a PUT made it
// after since: that instruction is newer than the list of active grants
// the reconcile is working from.
func (p *Provisioner) removeUnlessGrantedSince(ctx context.Context, request string, since time.Time) (bool, error) {
	if err := checkRequestName(request); err != nil {
		// Only someone other than the agent can have labelled it so.
		return false, fmt.Errorf("leaving objects labelled %s=%q alone: %w", RequestLabel, request, err)
	}
	defer p.locks.lock(request)()
	if t, ok := p.tokens.get(request); ok && !t.mintedAt.Before(since) {
		klog.InfoS("Keeping grant made during reconcile", "request", request)
		return false, nil
	}
	p.tokens.forget(request)
	if err := p.removeObjects(ctx, request); err != nil {
		return false, fmt.Errorf("removing grant %s: %w", request, err)
	}
	klog.InfoS("Removed grant", "request", request, "reason", "not active")
	return true, nil
}

// grantedRequests lists every request that has an object labelled for it.
func (p *Provisioner) grantedRequests(ctx context.Context) (sets.Set[string], error) {
	requests := sets.New[string]()
	for _, kind := range p.kinds.all() {
		objs, err := kind.list(ctx, metav1.ListOptions{LabelSelector: anyGrantSelector()})
		if err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kind.name, err)
		}
		for _, o := range objs {
			requests.Insert(o.request)
		}
	}
	return requests, nil
}

// Info describes the agent and the namespaces a request may name.
func (p *Provisioner) Info(ctx context.Context) (tunnel.AgentInfo, error) {
	version, err := p.client.Discovery().ServerVersionWithContext(ctx)
	if err != nil {
		return tunnel.AgentInfo{}, fmt.Errorf("reading the cluster's Kubernetes version: %w", err)
	}
	list, err := p.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return tunnel.AgentInfo{}, fmt.Errorf("listing namespaces: %w", err)
	}
	namespaces := []string{}
	for _, ns := range list.Items {
		if !p.excluded.Has(ns.Name) && ns.DeletionTimestamp == nil {
			namespaces = append(namespaces, ns.Name)
		}
	}
	slices.Sort(namespaces)
	return tunnel.AgentInfo{Version: Version, KubernetesVersion: version.GitVersion, Namespaces: namespaces}, nil
}
