package agent

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/tunnel"
)

func grantSpec(request string, namespaces ...string) tunnel.GrantSpec {
	return tunnel.GrantSpec{
		Request:    request,
		Requester:  "alice@example.com",
		Namespaces: namespaces,
		ExpiresAt:  time.Now().Add(time.Hour),
	}
}

// grantTest is what most tests of a grant start from: a provisioner
// working as the admin with an agent namespace of its own, two namespaces
// to grant, and a request whose grant is removed when the test ends.
type grantTest struct {
	cluster          *testenv.BareCluster
	ctx              context.Context
	provisioner      *Provisioner
	agentNS          string
	payments, orders string
	request          string
}

func newGrantTest(t *testing.T) grantTest {
	t.Helper()
	g := grantTest{cluster: targetCluster(t), ctx: testContext(t), request: newRequestName("alice")}
	g.provisioner, g.agentNS = newTestProvisioner(t, g.ctx, g.cluster)
	g.payments = newNamespace(t, g.ctx, g.cluster.Admin, "payments")
	g.orders = newNamespace(t, g.ctx, g.cluster.Admin, "orders")
	removeOnCleanup(t, g.cluster, g.agentNS, g.request)
	return g
}

func TestEnsureCreatesExactlyTheGrantObjects(t *testing.T) {
	g := newGrantTest(t)
	c, ctx, p, agentNS := g.cluster, g.ctx, g.provisioner, g.agentNS
	payments, orders, request := g.payments, g.orders, g.request

	status, err := p.Ensure(ctx, grantSpec(request, payments, orders))
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}

	name := "janus-" + request
	wantStatus := tunnel.GrantStatus{Request: request, Grants: []tunnel.Grant{
		{Namespace: payments, ServiceAccount: agentNS + "/" + name, Role: GrantClusterRole, RoleBinding: name},
		{Namespace: orders, ServiceAccount: agentNS + "/" + name, Role: GrantClusterRole, RoleBinding: name},
	}}
	if !reflect.DeepEqual(status, wantStatus) {
		t.Errorf("status %+v, want %+v", status, wantStatus)
	}

	objs := listGrantObjects(t, ctx, c.Admin, request)
	wantLabels := map[string]string{RequestLabel: request, ManagedByLabel: ManagedBy}
	wantAnnotations := map[string]string{RequesterAnnotation: "alice@example.com"}
	checkMeta := func(kind string, m metav1.ObjectMeta) {
		t.Helper()
		if m.Name != name {
			t.Errorf("%s %s/%s, want the name %s", kind, m.Namespace, m.Name, name)
		}
		if !reflect.DeepEqual(m.Labels, wantLabels) {
			t.Errorf("%s %s/%s has labels %v, want %v", kind, m.Namespace, m.Name, m.Labels, wantLabels)
		}
		if !reflect.DeepEqual(m.Annotations, wantAnnotations) {
			t.Errorf("%s %s/%s has annotations %v, want %v", kind, m.Namespace, m.Name, m.Annotations, wantAnnotations)
		}
	}

	if len(objs.serviceAccounts) != 1 || objs.serviceAccounts[0].Namespace != agentNS {
		t.Fatalf("serviceaccounts %v, want one in %s", objs, agentNS)
	}
	sa := objs.serviceAccounts[0]
	checkMeta("serviceaccount", sa.ObjectMeta)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the grant's ServiceAccount lets pods mount its token")
	}

	var bindingNamespaces []string
	for _, b := range objs.roleBindings {
		bindingNamespaces = append(bindingNamespaces, b.Namespace)
		checkMeta("rolebinding", b.ObjectMeta)
		wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: agentNS, Name: name}}
		if !reflect.DeepEqual(b.Subjects, wantSubjects) {
			t.Errorf("rolebinding %s/%s binds %+v, want %+v", b.Namespace, b.Name, b.Subjects, wantSubjects)
		}
		if wantRef := (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: GrantClusterRole}); b.RoleRef != wantRef {
			t.Errorf("rolebinding %s/%s refers to %+v, want %+v", b.Namespace, b.Name, b.RoleRef, wantRef)
		}
	}
	want := []string{orders, payments}
	slices.Sort(want)
	slices.Sort(bindingNamespaces)
	if !slices.Equal(bindingNamespaces, want) {
		t.Errorf("rolebindings in %v, want exactly one in each of %v", bindingNamespaces, want)
	}

	token, ok := p.Token(request)
	if !ok || token == "" {
		t.Fatal("Token() has no token after Ensure")
	}
	secrets, err := c.Admin.CoreV1().Secrets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		for _, v := range s.Data {
			if string(v) == token {
				t.Errorf("the token is stored in Secret %s/%s", s.Namespace, s.Name)
			}
		}
	}
}

// requestLog records the method and path of every request a client sends.
type requestLog struct {
	mu       sync.Mutex
	requests []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.requests = append(l.requests, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestEnsureWritesOnlyAServiceAccountRoleBindingsAndAToken: a grant binds
// the shipped ClusterRole, so it creates no Role (whose escalation check
// made grants slow) and changes no ClusterRole; its only writes are the
// ServiceAccount, one RoleBinding per namespace and the TokenRequest.
func TestEnsureWritesOnlyAServiceAccountRoleBindingsAndAToken(t *testing.T) {
	g := newGrantTest(t)
	log := &requestLog{}
	config := rest.CopyConfig(g.cluster.AdminConfig)
	config.Wrap(log.wrap)
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProvisioner(client, g.agentNS, DefaultExcludedNamespaces)

	if _, err := p.Ensure(g.ctx, grantSpec(g.request, g.payments, g.orders)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}

	const rbacPath = "/apis/rbac.authorization.k8s.io/v1"
	wantWrites := []string{
		"POST /api/v1/namespaces/" + g.agentNS + "/serviceaccounts",
		"POST " + rbacPath + "/namespaces/" + g.payments + "/rolebindings",
		"POST " + rbacPath + "/namespaces/" + g.orders + "/rolebindings",
		"POST /api/v1/namespaces/" + g.agentNS + "/serviceaccounts/janus-" + g.request + "/token",
	}
	var writes []string
	for _, r := range log.get() {
		if strings.Contains(r, "/roles") {
			t.Errorf("Ensure sent %s; a grant has no Roles", r)
		}
		if !strings.HasPrefix(r, http.MethodGet+" ") {
			writes = append(writes, r)
		}
	}
	// The objects are written at once, in no order; the token can only be
	// minted once its ServiceAccount exists.
	last := len(writes) - 1
	if last < 0 || writes[last] != wantWrites[len(wantWrites)-1] {
		t.Errorf("Ensure's last write is not the TokenRequest: %v", writes)
	}
	slices.Sort(writes)
	slices.Sort(wantWrites)
	if !slices.Equal(writes, wantWrites) {
		t.Errorf("Ensure wrote\n\t%s\nwant\n\t%s", strings.Join(writes, "\n\t"), strings.Join(wantWrites, "\n\t"))
	}
}

// TestEnsureRefusesWhileGrantClusterRoleIsNotAsShipped: binding a missing
// ClusterRole would grant nothing, and a widened one more than Janus
// promises; either way the requester learns what the cluster's
// administrators must do, and nothing is made.
func TestEnsureRefusesWhileGrantClusterRoleIsNotAsShipped(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(ctx context.Context, roles rbacclient.ClusterRoleInterface) error
		want   string
	}{
		"missing": {
			change: func(ctx context.Context, roles rbacclient.ClusterRoleInterface) error {
				return roles.Delete(ctx, GrantClusterRole, metav1.DeleteOptions{})
			},
			want: "ClusterRole janus-grant is missing: apply artifacts/agent/rbac.yaml",
		},
		"widened": {
			change: func(ctx context.Context, roles rbacclient.ClusterRoleInterface) error {
				role, err := roles.Get(ctx, GrantClusterRole, metav1.GetOptions{})
				if err != nil {
					return err
				}
				role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
				_, err = roles.Update(ctx, role, metav1.UpdateOptions{})
				return err
			},
			want: "ClusterRole janus-grant does not hold exactly the grant rules (extra [/secrets get], missing []): apply artifacts/agent/rbac.yaml",
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := newGrantTest(t)
			t.Cleanup(func() { applyGrantClusterRole(t, context.Background(), g.cluster) })
			if err := tc.change(g.ctx, g.cluster.Admin.RbacV1().ClusterRoles()); err != nil {
				t.Fatal(err)
			}

			_, err := g.provisioner.Ensure(g.ctx, grantSpec(g.request, g.payments))
			if !IsRefused(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Ensure = %v, want a refusal saying %q", err, tc.want)
			}
			requireNoGrantObjects(t, g.ctx, g.cluster.Admin, g.request)
			if _, ok := g.provisioner.Token(g.request); ok {
				t.Error("a refused grant has a token")
			}
		})
	}
}

func TestGrantTokenMayExecOnlyInGrantedNamespaces(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	p, agentNS := newTestProvisioner(t, ctx, c)
	payments, orders := newNamespace(t, ctx, c.Admin, "payments"), newNamespace(t, ctx, c.Admin, "orders")
	other := newNamespace(t, ctx, c.Admin, "other")
	request := newRequestName("alice")
	removeOnCleanup(t, c, agentNS, request)

	if _, err := p.Ensure(ctx, grantSpec(request, payments, orders)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	token, _ := p.Token(request)
	client := clientForToken(t, c, token)
	waitUntilAuthenticatesAs(t, ctx, client, "system:serviceaccount:"+agentNS+":janus-"+request)

	var allowed []access
	for _, ns := range []string{payments, orders} {
		allowed = append(allowed,
			access{verb: "create", resource: "pods", subresource: "exec", namespace: ns},
			access{verb: "get", resource: "pods", subresource: "exec", namespace: ns},
			access{verb: "get", resource: "pods", namespace: ns},
			access{verb: "list", resource: "pods", namespace: ns},
			access{verb: "get", resource: "pods", subresource: "log", namespace: ns},
			access{verb: "list", resource: "events", namespace: ns},
		)
	}
	denied := []access{
		{verb: "create", resource: "pods", subresource: "exec", namespace: other},
		{verb: "create", resource: "pods", subresource: "exec", namespace: agentNS},
		{verb: "create", resource: "pods", subresource: "exec", namespace: "kube-system"},
		{verb: "list", resource: "pods", namespace: other},
		{verb: "list", resource: "pods"},
		{verb: "delete", resource: "pods", namespace: payments},
		{verb: "create", resource: "pods", namespace: payments},
		{verb: "update", resource: "pods", namespace: payments},
		{verb: "patch", resource: "pods", subresource: "ephemeralcontainers", namespace: payments},
		{verb: "create", resource: "pods", subresource: "attach", namespace: payments},
		{verb: "create", resource: "pods", subresource: "portforward", namespace: payments},
		{verb: "get", resource: "secrets", namespace: payments},
		{verb: "list", resource: "secrets", namespace: payments},
		{verb: "get", resource: "configmaps", namespace: payments},
		{verb: "watch", resource: "events", namespace: payments},
		{verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: payments},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: agentNS},
	}
	requireAccess(t, ctx, client, allowed, denied)
}

func TestEnsureRefusesExcludedNamespacesAndCreatesNothing(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	restricted := newNamespace(t, ctx, c.Admin, "restricted")
	p, agentNS := newTestProvisioner(t, ctx, c, restricted)
	payments := newNamespace(t, ctx, c.Admin, "payments")

	for _, excluded := range []string{"kube-system", agentNS, restricted} {
		t.Run(excluded, func(t *testing.T) {
			request := newRequestName("alice")
			_, err := p.Ensure(ctx, grantSpec(request, payments, excluded))
			if !IsRefused(err) {
				t.Fatalf("Ensure = %v, want a refusal", err)
			}
			if want := "namespace " + excluded + " is excluded"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
			requireNoGrantObjects(t, ctx, c.Admin, request)
			if _, ok := p.Token(request); ok {
				t.Error("a refused grant has a token")
			}
		})
	}
}

// TestEnsureRefusesNamespacesTheClusterDoesNotHave, whether the agent
// reads each namespace from the target or finds it in its namespace watch
// (WatchNamespaces); a namespace created just before the grant is granted
// either way, seen by the watch yet or not.
func TestEnsureRefusesNamespacesTheClusterDoesNotHave(t *testing.T) {
	for _, watched := range []bool{false, true} {
		t.Run(map[bool]string{false: "read", true: "watched"}[watched], func(t *testing.T) {
			c := targetCluster(t)
			ctx := testContext(t)
			p, agentNS := newTestProvisioner(t, ctx, c)
			if watched {
				watchNamespaces(t, ctx, p)
			}
			payments := newNamespace(t, ctx, c.Admin, "payments")
			leaving := newNamespace(t, ctx, c.Admin, "leaving")
			// No namespace controller runs, so it stays Terminating.
			if err := c.Admin.CoreV1().Namespaces().Delete(ctx, leaving, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if watched {
				// What the watch holds decides: a RoleBinding in a
				// namespace it has not yet seen go would be refused by
				// the target's admission instead, with its own message.
				waitFor(t, ctx, "the watch sees "+leaving+" terminating", func(context.Context) (bool, error) {
					ns, err := p.namespaces.Load().lister.Get(leaving)
					return err == nil && ns.DeletionTimestamp != nil, err
				})
			}

			for missing, want := range map[string]string{
				"does-not-exist": "namespace does-not-exist does not exist in this cluster",
				leaving:          "namespace " + leaving + " is being deleted",
			} {
				t.Run(missing, func(t *testing.T) {
					request := newRequestName("alice")
					_, err := p.Ensure(ctx, grantSpec(request, payments, missing))
					if !IsRefused(err) {
						t.Fatalf("Ensure = %v, want a refusal", err)
					}
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
					requireNoGrantObjects(t, ctx, c.Admin, request)
				})
			}

			fresh, request := newNamespace(t, ctx, c.Admin, "fresh"), newRequestName("alice")
			removeOnCleanup(t, c, agentNS, request)
			if _, err := p.Ensure(ctx, grantSpec(request, payments, fresh)); err != nil {
				t.Errorf("Ensure in a namespace created just before: %v", err)
			}
		})
	}
}

// watchNamespaces starts p's namespace watch and waits until it has
// listed the namespaces.
func watchNamespaces(t *testing.T, ctx context.Context, p *Provisioner) {
	t.Helper()
	p.WatchNamespaces(ctx)
	waitFor(t, ctx, "the namespace watch to list the namespaces", func(context.Context) (bool, error) {
		return p.namespaces.Load().synced(), nil
	})
}

func TestEnsureRejectsMalformedGrants(t *testing.T) {
	p := NewProvisioner(nil, "janus", nil)
	valid := grantSpec("alice-1", "payments")
	for name, modify := range map[string]func(*tunnel.GrantSpec){
		"no request":           func(s *tunnel.GrantSpec) { s.Request = "" },
		"request is no name":   func(s *tunnel.GrantSpec) { s.Request = "Alice" },
		"request too long":     func(s *tunnel.GrantSpec) { s.Request = strings.Repeat("a", 64) },
		"no requester":         func(s *tunnel.GrantSpec) { s.Requester = "" },
		"no namespaces":        func(s *tunnel.GrantSpec) { s.Namespaces = nil },
		"namespace is no name": func(s *tunnel.GrantSpec) { s.Namespaces = []string{"pay.ments"} },
		"duplicate namespace":  func(s *tunnel.GrantSpec) { s.Namespaces = []string{"payments", "payments"} },
		"no expiry":            func(s *tunnel.GrantSpec) { s.ExpiresAt = time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			spec := valid
			spec.Namespaces = slices.Clone(valid.Namespaces)
			modify(&spec)
			// The provisioner has no client: a malformed grant must be
			// rejected before the cluster is asked anything.
			if _, err := p.Ensure(context.Background(), spec); !IsInvalid(err) {
				t.Errorf("Ensure = %v, want an invalid-request error", err)
			}
		})
	}
}

func TestEnsureFailingPartWayLeavesNothingBehind(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)

	t.Run("a rolebinding of that name belongs to someone else", func(t *testing.T) {
		g := newGrantTest(t)
		p, payments, orders, request := g.provisioner, g.payments, g.orders, g.request
		foreign := foreignRoleBinding("janus-"+request, orders)
		if _, err := c.Admin.RbacV1().RoleBindings(orders).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}

		_, err := p.Ensure(ctx, grantSpec(request, payments, orders))
		if err == nil || IsRefused(err) {
			t.Fatalf("Ensure = %v, want a failure", err)
		}
		for _, want := range []string{"creating rolebinding in " + orders, "was not created by Janus"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		requireNoGrantObjects(t, ctx, c.Admin, request)
		if _, ok := p.Token(request); ok {
			t.Error("a failed grant has a token")
		}
		got, err := c.Admin.RbacV1().RoleBindings(orders).Get(ctx, foreign.Name, metav1.GetOptions{})
		if err != nil || got.RoleRef != foreign.RoleRef || !reflect.DeepEqual(got.Subjects, foreign.Subjects) {
			t.Errorf("the foreign rolebinding was changed or removed: %+v, %v", got, err)
		}
	})

	t.Run("the agent may not create rolebindings in the second namespace", func(t *testing.T) {
		agentNS := newNamespace(t, ctx, c.Admin, "agent")
		payments, orders := newNamespace(t, ctx, c.Admin, "payments"), newNamespace(t, ctx, c.Admin, "orders")
		limited := limitedAgent(t, ctx, c, agentNS, agentLimits{namespaces: []string{agentNS, payments}})
		p := NewProvisioner(limited, agentNS, nil)
		request := newRequestName("alice")
		removeOnCleanup(t, c, agentNS, request)

		_, err := p.Ensure(ctx, grantSpec(request, payments, orders))
		if err == nil || IsRefused(err) {
			t.Fatalf("Ensure = %v, want a failure", err)
		}
		for _, want := range []string{"creating rolebinding in " + orders, "is forbidden", "cannot create resource \"rolebindings\""} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		requireNoGrantObjects(t, ctx, c.Admin, request)
	})

	// Without bind on janus-grant, kube-apiserver falls back to the
	// escalation check, which an agent holding none of the grant rules
	// fails: bind is what lets it grant.
	t.Run("the agent may not bind janus-grant", func(t *testing.T) {
		agentNS := newNamespace(t, ctx, c.Admin, "agent")
		payments := newNamespace(t, ctx, c.Admin, "payments")
		limited := limitedAgent(t, ctx, c, agentNS, agentLimits{namespaces: []string{agentNS, payments}, noBind: true})
		p := NewProvisioner(limited, agentNS, nil)
		request := newRequestName("alice")
		removeOnCleanup(t, c, agentNS, request)

		_, err := p.Ensure(ctx, grantSpec(request, payments))
		if err == nil || IsRefused(err) {
			t.Fatalf("Ensure = %v, want a failure", err)
		}
		for _, want := range []string{"creating rolebinding in " + payments, "is forbidden", "not currently held"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		requireNoGrantObjects(t, ctx, c.Admin, request)
	})

	t.Run("the agent may not mint the token", func(t *testing.T) {
		agentNS := newNamespace(t, ctx, c.Admin, "agent")
		payments, orders := newNamespace(t, ctx, c.Admin, "payments"), newNamespace(t, ctx, c.Admin, "orders")
		limited := limitedAgent(t, ctx, c, agentNS, agentLimits{namespaces: []string{agentNS, payments, orders}, noToken: true})
		p := NewProvisioner(limited, agentNS, nil)
		request := newRequestName("alice")
		removeOnCleanup(t, c, agentNS, request)

		_, err := p.Ensure(ctx, grantSpec(request, payments, orders))
		if err == nil || !strings.Contains(err.Error(), "minting a token for serviceaccount "+agentNS+"/janus-"+request) {
			t.Fatalf("Ensure = %v, want a failure to mint the token", err)
		}
		requireNoGrantObjects(t, ctx, c.Admin, request)
	})
}

// agentLimits narrow what limitedAgent may do.
type agentLimits struct {
	// namespaces are the only ones where it may make RoleBindings and
	// ServiceAccounts.
	namespaces []string
	// noToken takes away minting tokens.
	noToken bool
	// noBind takes away bind on janus-grant.
	noBind bool
}

// foreignRoleBinding is a binding of that name that Janus did not make.
func foreignRoleBinding(name, namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory@example.com"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
	}
}

// limitedAgent is a client for a user with the agent's rules, narrowed by
// limits.
func limitedAgent(t *testing.T, ctx context.Context, c *testenv.BareCluster, agentNS string, limits agentLimits) kubernetes.Interface {
	t.Helper()
	user := newRequestName("limited-agent")
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}, Verbs: []string{"create", "delete", "get", "list", "update"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"create", "delete", "get", "list", "update"}},
	}
	if !limits.noToken {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}})
	}
	grantRole := rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, ResourceNames: []string{GrantClusterRole}, Verbs: []string{"get", "bind"}}
	if limits.noBind {
		grantRole.Verbs = []string{"get"}
	}
	clusterWide := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}, Verbs: []string{"list"}},
		grantRole,
	}
	rbac := c.Admin.RbacV1()
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	mustCreate := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules}, metav1.CreateOptions{}))
	mustCreate(rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user + "-cluster"}, Rules: clusterWide}, metav1.CreateOptions{}))
	mustCreate(rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-cluster"},
		Subjects:   subjects,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user + "-cluster"},
	}, metav1.CreateOptions{}))
	for _, ns := range limits.namespaces {
		mustCreate(rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user},
			Subjects:   subjects,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		}, metav1.CreateOptions{}))
	}

	config := rest.CopyConfig(c.AdminConfig)
	config.Impersonate = rest.ImpersonationConfig{UserName: user}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	var allowed []access
	for _, ns := range limits.namespaces {
		allowed = append(allowed, access{verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: ns})
	}
	allowed = append(allowed, access{verb: "get", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: GrantClusterRole})
	requireAccess(t, ctx, client, allowed, nil)
	return client
}

func TestEnsureFailureKeepsAWorkingEarlierGrant(t *testing.T) {
	g := newGrantTest(t)
	c, ctx, p, agentNS := g.cluster, g.ctx, g.provisioner, g.agentNS
	payments, orders, request := g.payments, g.orders, g.request
	spec := grantSpec(request, payments, orders)
	if _, err := p.Ensure(ctx, spec); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	before := listGrantObjects(t, ctx, c.Admin, request)
	token, _ := p.Token(request)

	// Someone swaps the binding in orders for one Janus did not make.
	name := "janus-" + request
	if err := c.Admin.RbacV1().RoleBindings(orders).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	foreign := grantRoleBinding(spec, orders, agentNS)
	foreign.Labels = nil
	if _, err := c.Admin.RbacV1().RoleBindings(orders).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	spec.ExpiresAt = spec.ExpiresAt.Add(time.Hour)
	if _, err := p.Ensure(ctx, spec); err == nil {
		t.Fatal("Ensure succeeded over a foreign RoleBinding")
	}
	if got, ok := p.Token(request); !ok || got != token {
		t.Error("the earlier grant's token is gone")
	}
	after := listGrantObjects(t, ctx, c.Admin, request)
	if len(after.serviceAccounts) != 1 || len(after.roleBindings) != len(before.roleBindings)-1 {
		t.Errorf("after the failed refresh the grant has %v, want what it had (%v) but the replaced binding", after, before)
	}
}

func TestEnsureAgainUpdatesTheGrantAndMintsANewToken(t *testing.T) {
	g := newGrantTest(t)
	c, ctx, p := g.cluster, g.ctx, g.provisioner
	payments, orders, request := g.payments, g.orders, g.request
	spec := grantSpec(request, payments, orders)
	// Shorter than TokenRequest allows: the token gets the 10 minute floor.
	spec.ExpiresAt = time.Now().Add(time.Minute)
	if _, err := p.Ensure(ctx, spec); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	first, _ := p.tokens.get(request)
	if floor := time.Now().Add(minTokenLifetime - time.Minute); first.expiresAt.Before(floor) {
		t.Errorf("token expires at %s, before the 10 minute floor", first.expiresAt)
	}
	before := listGrantObjects(t, ctx, c.Admin, request)

	// Someone adds a subject to a binding; the next Ensure takes it out.
	name := "janus-" + request
	binding, err := c.Admin.RbacV1().RoleBindings(payments).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantSubjects := binding.Subjects
	binding.Subjects = append(slices.Clone(binding.Subjects), rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory@example.com"})
	if _, err := c.Admin.RbacV1().RoleBindings(payments).Update(ctx, binding, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// An extension.
	spec.ExpiresAt = time.Now().Add(2 * time.Hour)
	if _, err := p.Ensure(ctx, spec); err != nil {
		t.Fatalf("Ensure again: %v", err)
	}
	second, _ := p.tokens.get(request)
	if second.value == first.value {
		t.Error("Ensure again kept the old token")
	}
	// The API server reports the expiry in whole seconds.
	if want := spec.ExpiresAt; second.expiresAt.Before(want.Add(-time.Second)) || second.expiresAt.After(want.Add(time.Minute)) {
		t.Errorf("new token expires at %s, want about %s", second.expiresAt, want)
	}
	binding, err = c.Admin.RbacV1().RoleBindings(payments).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(binding.Subjects, wantSubjects) {
		t.Errorf("rolebinding subjects %+v, want %+v again", binding.Subjects, wantSubjects)
	}
	after := listGrantObjects(t, ctx, c.Admin, request)
	if len(after.serviceAccounts) != 1 || len(after.roleBindings) != 2 {
		t.Fatalf("after Ensure again: %v, want the same objects as before: %v", after, before)
	}
	// Updated in place: the ServiceAccount is the same object, so tokens
	// minted for it stay bound to it.
	if after.serviceAccounts[0].UID != before.serviceAccounts[0].UID {
		t.Error("Ensure again replaced the ServiceAccount")
	}

	// A grant that covers fewer namespaces now loses the others.
	spec.Namespaces = []string{payments}
	if _, err := p.Ensure(ctx, spec); err != nil {
		t.Fatalf("Ensure with fewer namespaces: %v", err)
	}
	after = listGrantObjects(t, ctx, c.Admin, request)
	if len(after.roleBindings) != 1 || after.roleBindings[0].Namespace != payments {
		t.Errorf("after narrowing to %s: %v", payments, after)
	}
}

func TestRemoveDeletesEverythingAndTheTokenStopsWorking(t *testing.T) {
	g := newGrantTest(t)
	c, ctx, p, agentNS := g.cluster, g.ctx, g.provisioner, g.agentNS
	payments, orders, request := g.payments, g.orders, g.request
	if _, err := p.Ensure(ctx, grantSpec(request, payments, orders)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	token, _ := p.Token(request)
	client := clientForToken(t, c, token)
	waitUntilAuthenticatesAs(t, ctx, client, "system:serviceaccount:"+agentNS+":janus-"+request)

	if err := p.Remove(ctx, request); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	requireNoGrantObjects(t, ctx, c.Admin, request)
	if _, ok := p.Token(request); ok {
		t.Error("Token() still has a token after Remove")
	}
	waitFor(t, ctx, "the removed grant's token to be rejected", func(ctx context.Context) (bool, error) {
		_, err := whoAmI(ctx, client)
		return apierrors.IsUnauthorized(err), err
	})

	if err := p.Remove(ctx, request); err != nil {
		t.Errorf("Remove again: %v, want nil", err)
	}
	if err := p.Remove(ctx, newRequestName("never")); err != nil {
		t.Errorf("Remove of a grant that never was: %v, want nil", err)
	}
}

// TestRemoveLeavesAnObjectThatReplacedTheGrantsAlone: Remove deletes the
// objects the agent made by name and UID, so one of the same name that
// somebody put in place of a RoleBinding of the grant is not deleted.
// That replacement keeps the deletions by UID from confirming the removal,
// so it sweeps by label, and a leftover labelled for the request that
// this agent did not make (another agent's, say) goes all the same.
func TestRemoveLeavesAnObjectThatReplacedTheGrantsAlone(t *testing.T) {
	g := newGrantTest(t)
	c, ctx, p, agentNS := g.cluster, g.ctx, g.provisioner, g.agentNS
	payments, orders, request := g.payments, g.orders, g.request
	if _, err := p.Ensure(ctx, grantSpec(request, payments, orders)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	name := "janus-" + request
	rbac := c.Admin.RbacV1()
	if err := rbac.RoleBindings(orders).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	foreign := foreignRoleBinding(name, orders)
	if _, err := rbac.RoleBindings(orders).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A leftover only the label ties to the request.
	other := NewProvisioner(c.Admin, agentNS, DefaultExcludedNamespaces)
	third := newNamespace(t, ctx, c.Admin, "third")
	if _, err := other.Ensure(ctx, grantSpec(request, third)); err != nil {
		t.Fatalf("Ensure by another agent: %v", err)
	}

	if err := p.Remove(ctx, request); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	requireNoGrantObjects(t, ctx, c.Admin, request)
	got, err := rbac.RoleBindings(orders).Get(ctx, name, metav1.GetOptions{})
	if err != nil || got.RoleRef != foreign.RoleRef {
		t.Errorf("the rolebinding that replaced the grant's was changed or removed: %+v, %v", got, err)
	}
}

func TestReconcileRemovesLeftoversAndRestoresActiveGrants(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	p, agentNS := newTestProvisioner(t, ctx, c)
	payments, orders := newNamespace(t, ctx, c.Admin, "payments"), newNamespace(t, ctx, c.Admin, "orders")
	ended, active, orphan, missing := newRequestName("ended"), newRequestName("active"), newRequestName("orphan"), newRequestName("missing")
	refused, malformed := newRequestName("refused"), "Not-A-Name"
	removeOnCleanup(t, c, agentNS, ended, active, orphan, missing)

	for _, r := range []string{ended, active} {
		if _, err := p.Ensure(ctx, grantSpec(r, payments, orders)); err != nil {
			t.Fatalf("Ensure %s: %v", r, err)
		}
	}
	// An agent that crashed mid-grant left a RoleBinding behind.
	if _, err := c.Admin.RbacV1().RoleBindings(payments).Create(ctx, grantRoleBinding(grantSpec(orphan, payments), payments, agentNS), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Someone deleted a binding of an active grant.
	if err := c.Admin.RbacV1().RoleBindings(orders).Delete(ctx, "janus-"+active, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	result, err := p.Reconcile(ctx, tunnel.ReconcileRequest{Active: []tunnel.GrantSpec{
		grantSpec(active, payments, orders),
		grantSpec(missing, payments),
		grantSpec(refused, "kube-system"),
		grantSpec(malformed, payments),
	}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}

	for _, r := range []string{ended, orphan} {
		if !slices.Contains(result.Removed, r) {
			t.Errorf("Removed %v lacks %s", result.Removed, r)
		}
		requireNoGrantObjects(t, ctx, c.Admin, r)
	}
	if _, ok := p.Token(ended); ok {
		t.Errorf("%s still has a token", ended)
	}
	if want := []string{active, missing}; !slices.Equal(result.Ensured, want) {
		t.Errorf("Ensured %v, want %v", result.Ensured, want)
	}
	if msg := result.Failed[refused]; !strings.Contains(msg, "kube-system is excluded") {
		t.Errorf("Failed[%s] = %q, want the refusal", refused, msg)
	}
	if msg := result.Failed[malformed]; !strings.Contains(msg, "request: Invalid value") {
		t.Errorf("Failed[%s] = %q, want why the name is invalid", malformed, msg)
	}
	if len(result.Failed) != 2 {
		t.Errorf("Failed %v, want only %s and %s", result.Failed, refused, malformed)
	}
	for r, namespaces := range map[string]int{active: 2, missing: 1} {
		objs := listGrantObjects(t, ctx, c.Admin, r)
		if len(objs.serviceAccounts) != 1 || len(objs.roleBindings) != namespaces {
			t.Errorf("%s has %v after reconcile, want a whole grant in %d namespaces", r, objs, namespaces)
		}
		if _, ok := p.Token(r); !ok {
			t.Errorf("%s has no token after reconcile", r)
		}
	}
}

func TestInfoReportsVersionsAndGrantableNamespaces(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	restricted := newNamespace(t, ctx, c.Admin, "restricted")
	p, agentNS := newTestProvisioner(t, ctx, c, restricted)
	payments := newNamespace(t, ctx, c.Admin, "payments")
	leaving := newNamespace(t, ctx, c.Admin, "leaving")
	if err := c.Admin.CoreV1().Namespaces().Delete(ctx, leaving, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	info, err := p.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Version != Version {
		t.Errorf("version %q, want %q", info.Version, Version)
	}
	if info.KubernetesVersion != "v1.37.2" {
		t.Errorf("Kubernetes version %q, want v1.37.2", info.KubernetesVersion)
	}
	if !slices.Contains(info.Namespaces, payments) || !slices.Contains(info.Namespaces, "default") {
		t.Errorf("namespaces %v lack %s or default", info.Namespaces, payments)
	}
	for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease", agentNS, restricted, leaving} {
		if slices.Contains(info.Namespaces, ns) {
			t.Errorf("namespaces %v include %s, which may not be granted", info.Namespaces, ns)
		}
	}
	if !slices.IsSorted(info.Namespaces) {
		t.Errorf("namespaces %v are not sorted", info.Namespaces)
	}
}
