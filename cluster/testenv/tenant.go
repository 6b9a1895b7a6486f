package testenv

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Names of what NamespaceKubeconfig and HelmProviderConfig create in a
// tenant's namespace; examples/tenancy/helm-providerconfig.yaml uses the same.
const (
	// HelmServiceAccount is the ServiceAccount provider-helm acts as in
	// the namespace.
	HelmServiceAccount = "provider-helm"
	// HelmKubeconfigSecret holds its kubeconfig, under key HelmKubeconfigKey.
	HelmKubeconfigSecret = "provider-helm-kubeconfig"
	HelmKubeconfigKey    = "kubeconfig"
	// HelmProviderConfigName is the namespaced provider-helm ProviderConfig
	// the compose-qdrant function's Releases name unless told otherwise.
	HelmProviderConfigName = "default"
)

// tokenSeconds is how long a tenant token lives: longer than any test.
const tokenSeconds = 24 * 60 * 60

// ServiceMonitorRule lets a namespace's identity manage the Prometheus
// Operator's ServiceMonitors, which the qdrant chart creates: ClusterRole
// admin grants them only where the operator's installation aggregated them
// into it.
var ServiceMonitorRule = rbacv1.PolicyRule{
	APIGroups: []string{"monitoring.coreos.com"},
	Resources: []string{"servicemonitors"},
	Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
}

// NamespaceKubeconfig returns a kubeconfig for the ServiceAccount
// HelmServiceAccount of namespace ns, with rights in ns only: a RoleBinding
// there to ClusterRole admin, and a Role with the extra rules, if any. It
// creates the ServiceAccount, the bindings and a token (TokenRequest API, no
// Secret) as the administrator cfg and c act as; the kubeconfig reaches the
// apiserver at cfg's address, trusting cfg's CA. It fails when ClusterRole
// admin has no rules: kube-apiserver creates it empty and
// kube-controller-manager's clusterrole-aggregation controller fills it.
func NamespaceKubeconfig(ctx context.Context, cfg *rest.Config, c client.Client, ns string, extra ...rbacv1.PolicyRule) ([]byte, error) {
	admin := &rbacv1.ClusterRole{}
	if err := c.Get(ctx, client.ObjectKey{Name: "admin"}, admin); err != nil {
		return nil, fmt.Errorf("cannot read ClusterRole admin: %w", err)
	}
	if len(admin.Rules) == 0 {
		return nil, errors.New("ClusterRole admin has no rules: kube-controller-manager's clusterrole-aggregation controller has not filled it")
	}
	create := func(o client.Object) error {
		if err := c.Create(ctx, o); err != nil && !kerrors.IsAlreadyExists(err) {
			return fmt.Errorf("cannot create %T %s/%s: %w", o, ns, o.GetName(), err)
		}
		return nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: HelmServiceAccount}}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: HelmServiceAccount}}
	objs := []client.Object{
		sa,
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: HelmServiceAccount + "-admin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects:   subjects,
		},
	}
	if len(extra) > 0 {
		objs = append(objs,
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: HelmServiceAccount + "-extra"}, Rules: extra},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: HelmServiceAccount + "-extra"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: HelmServiceAccount + "-extra"},
				Subjects:   subjects,
			})
	}
	for _, o := range objs {
		if err := create(o); err != nil {
			return nil, err
		}
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(tokenSeconds))}}
	if err := c.SubResource("token").Create(ctx, sa, tr); err != nil {
		return nil, fmt.Errorf("cannot request a token for ServiceAccount %s/%s: %w", ns, HelmServiceAccount, err)
	}

	cluster := &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, CertificateAuthorityData: cfg.CAData}
	kc := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"cluster": cluster},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{HelmServiceAccount: {Token: tr.Status.Token}},
		Contexts:       map[string]*clientcmdapi.Context{"tenant": {Cluster: "cluster", AuthInfo: HelmServiceAccount, Namespace: ns}},
		CurrentContext: "tenant",
	}
	b, err := clientcmd.Write(kc)
	if err != nil {
		return nil, fmt.Errorf("cannot render the kubeconfig of %s/%s: %w", ns, HelmServiceAccount, err)
	}
	return b, nil
}

// HelmProviderConfig creates, in namespace ns, the Secret HelmKubeconfigSecret
// holding kubeconfig and the namespaced provider-helm ProviderConfig
// HelmProviderConfigName (helm.m.crossplane.io/v1beta1) that reads it, as a
// platform admin does per tenant namespace. provider-helm v1.3.0 reads a
// namespaced ProviderConfig's Secret in the Release's namespace. An existing
// Secret or ProviderConfig is updated.
func HelmProviderConfig(ctx context.Context, c client.Client, ns string, kubeconfig []byte) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: HelmKubeconfigSecret},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{HelmKubeconfigKey: kubeconfig},
	}
	pc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.m.crossplane.io/v1beta1",
		"kind":       "ProviderConfig",
		"metadata":   map[string]any{"namespace": ns, "name": HelmProviderConfigName},
		"spec": map[string]any{"credentials": map[string]any{
			"source": "Secret",
			// The CRD requires a namespace; provider-helm replaces it with
			// the Release's.
			"secretRef": map[string]any{"namespace": ns, "name": HelmKubeconfigSecret, "key": HelmKubeconfigKey},
		}},
	}}
	for _, o := range []client.Object{s, pc} {
		err := c.Create(ctx, o)
		if kerrors.IsAlreadyExists(err) {
			cur := o.DeepCopyObject().(client.Object) //nolint:forcetypeassert // A copy of a client.Object is one.
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
				return fmt.Errorf("cannot read %s %s/%s: %w", o.GetObjectKind().GroupVersionKind().Kind, ns, o.GetName(), err)
			}
			o.SetResourceVersion(cur.GetResourceVersion())
			err = c.Update(ctx, o)
		}
		if err != nil {
			return fmt.Errorf("cannot write %T %s/%s: %w", o, ns, o.GetName(), err)
		}
	}
	return nil
}
