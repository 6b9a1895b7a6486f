package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pkgmetav1 "github.com/crossplane/crossplane/apis/v2/pkg/meta/v1"
)

// ProviderRole renders the ClusterRole that Crossplane's RBAC manager (v2.3.4,
// internal/controller/rbac/provider/roles) binds to a provider's
// ServiceAccount, for the Provider package in dir: its crossplane.yaml and
// the CRDs of its crds/ folder. It is the 'system' role, rule for rule:
//
//   - the package's own kinds and their status: get, list, watch, update,
//     patch and create;
//   - the finalizers of any kind of those groups: update;
//   - Secrets, ConfigMaps, Events and Leases: everything;
//   - with the safe-start capability, CRDs: get, list and watch.
//
// Nothing else: Crossplane v2 dropped the permissionRequests a v1 package
// could declare, so a provider that needs more cannot get it from its
// package. The metadata is decoded strictly, so a field Crossplane would
// ignore fails here.
func ProviderRole(dir string) (*rbacv1.ClusterRole, error) {
	b, err := os.ReadFile(filepath.Join(dir, "crossplane.yaml")) //nolint:gosec // The package folder the test names.
	if err != nil {
		return nil, fmt.Errorf("cannot read the package metadata: %w", err)
	}
	meta := &pkgmetav1.Provider{}
	if err := yaml.UnmarshalStrict(b, meta); err != nil {
		return nil, fmt.Errorf("cannot decode the package metadata as Crossplane v2 would: %w", err)
	}
	crds, err := ReadCRDs(filepath.Join(dir, "crds"))
	if err != nil {
		return nil, err
	}

	// The RBAC manager sorts resources by plural then group, and groups in
	// the order they first appear.
	type res struct{ group, plural string }
	rs := make([]res, 0, len(crds))
	for _, crd := range crds {
		rs = append(rs, res{group: crd.Spec.Group, plural: crd.Spec.Names.Plural})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].plural+rs[i].group < rs[j].plural+rs[j].group })
	var groups []string
	byGroup := map[string][]string{}
	for _, r := range rs {
		if _, ok := byGroup[r.group]; !ok {
			groups = append(groups, r.group)
		}
		byGroup[r.group] = append(byGroup[r.group], r.plural, r.plural+"/status")
	}

	var rules []rbacv1.PolicyRule
	for _, g := range groups {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups: []string{g},
			Resources: byGroup[g],
			Verbs:     []string{"get", "list", "watch", "update", "patch", "create"},
		})
	}
	rules = append(rules,
		rbacv1.PolicyRule{APIGroups: groups, Resources: []string{"*/finalizers"}, Verbs: []string{"update"}},
		rbacv1.PolicyRule{
			APIGroups: []string{"", coordinationv1.GroupName},
			Resources: []string{"secrets", "configmaps", "events", "leases"},
			Verbs:     []string{rbacv1.VerbAll},
		},
	)
	if pkgmetav1.CapabilitiesContainFuzzyMatch(meta.Spec.Capabilities, pkgmetav1.ProviderCapabilitySafeStart) {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups: []string{"apiextensions.k8s.io"},
			Resources: []string{"customresourcedefinitions"},
			Verbs:     []string{"get", "list", "watch"},
		})
	}
	return &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "crossplane:provider:" + meta.GetName() + ":system"},
		Rules:      rules,
	}, nil
}

// A ServiceAccount the tests act as.
type ServiceAccount struct {
	Namespace string
	Name      string
}

// UserName is the name the API server knows the ServiceAccount by.
func (sa ServiceAccount) UserName() string {
	return "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
}

// Groups are the groups of the ServiceAccount's tokens.
func (sa ServiceAccount) Groups() []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"}
}

// BindServiceAccount creates the ServiceAccount, its namespace and role, and
// binds the role to it alone, as Crossplane does for a provider's pod.
func (e *Env) BindServiceAccount(ctx context.Context, sa ServiceAccount, role *rbacv1.ClusterRole) error {
	create := func(o client.Object) error {
		if err := e.Client.Create(ctx, o); err != nil && !kerrors.IsAlreadyExists(err) {
			return fmt.Errorf("cannot create %T %s: %w", o, o.GetName(), err)
		}
		return nil
	}
	if err := create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sa.Namespace}}); err != nil {
		return err
	}
	if err := create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: sa.Name}}); err != nil {
		return err
	}
	r := role.DeepCopy()
	if err := e.Client.Create(ctx, r); kerrors.IsAlreadyExists(err) {
		cur := &rbacv1.ClusterRole{}
		if err := e.Client.Get(ctx, client.ObjectKey{Name: role.Name}, cur); err != nil {
			return fmt.Errorf("cannot read ClusterRole %s: %w", role.Name, err)
		}
		cur.Rules = role.Rules
		if err := e.Client.Update(ctx, cur); err != nil {
			return fmt.Errorf("cannot update ClusterRole %s: %w", role.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("cannot create ClusterRole %s: %w", role.Name, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name + ":" + sa.Namespace + ":" + sa.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name}},
	}
	return create(crb)
}

// As returns a rest.Config that acts as the ServiceAccount: the
// administrator's credentials, impersonating it, so that every request is
// authorized as the ServiceAccount's would be.
func (e *Env) As(sa ServiceAccount) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: sa.UserName(), Groups: sa.Groups()}
	return cfg
}

// KubeconfigAs writes a kubeconfig to path that acts as the ServiceAccount,
// for programs the tests run as separate processes.
func (e *Env) KubeconfigAs(path string, sa ServiceAccount) error {
	if err := e.Kubeconfig(path); err != nil {
		return err
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return fmt.Errorf("cannot read kubeconfig: %w", err)
	}
	for _, ai := range kc.AuthInfos {
		ai.Impersonate = sa.UserName()
		ai.ImpersonateGroups = sa.Groups()
	}
	return clientcmd.WriteToFile(*kc, path)
}
