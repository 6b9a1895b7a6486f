package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// startRoleAggregation runs kube-controller-manager's clusterrole-aggregation
// controller, as every real cluster does, and waits until it has filled
// ClusterRole admin, which kube-apiserver creates with no rules.
func startRoleAggregation(t *testing.T, e *Env) {
	t.Helper()
	bin, err := ControllerManagerBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := e.Kubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kube-controller-manager.log")
	log, err := os.Create(logPath) //nolint:gosec // A log file in the test's own t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	// Not t.Context(): the process runs until the cleanup below ends it.
	cmd := exec.CommandContext(context.Background(), bin, "--kubeconfig", kc, "--controllers", "clusterrole-aggregation-controller", "--leader-elect=false", "--secure-port", "0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait(); _ = log.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		admin := &rbacv1.ClusterRole{}
		if err := e.Client.Get(t.Context(), client.ObjectKey{Name: "admin"}, admin); err == nil && len(admin.Rules) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClusterRole admin was never aggregated; kube-controller-manager's log ends:\n%s", logTail(logPath, 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// helmCRDs is the folder of provider-helm's CRDs cluster/build.sh built.
func helmCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), filepath.Join("..", "build.sh"), "--path", "provider-helm-crds").Output()
	dir := strings.TrimSpace(string(out))
	if _, serr := os.Stat(filepath.Join(dir, "helm.m.crossplane.io_providerconfigs.yaml")); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("provider-helm's CRDs are not built (cluster/build.sh provider-helm-crds): %v", err)
		}
		t.Skip("provider-helm's CRDs are not built; run 'make tools'")
	}
	return dir
}

// TestNamespaceKubeconfig checks that the kubeconfig a platform admin gives
// provider-helm for a tenant namespace, and the ProviderConfig holding it,
// act in that namespace and nowhere else, on a real apiserver authorizing
// with RBAC: Helm release records are Secrets the tenant can forge there,
// and provider-helm acts on them with this identity.
func TestNamespaceKubeconfig(t *testing.T) {
	e := startForTest(t)
	crds := helmCRDs(t)
	startRoleAggregation(t, e)
	// The Prometheus Operator's ServiceMonitor kind, reduced to what the
	// apiserver needs to store one: the qdrant chart creates one.
	monitors := &extv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: extv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Scope: extv1.NamespaceScoped,
			Names: extv1.CustomResourceDefinitionNames{Kind: "ServiceMonitor", ListKind: "ServiceMonitorList", Plural: "servicemonitors", Singular: "servicemonitor"},
			Versions: []extv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true, Schema: &extv1.CustomResourceValidation{
				OpenAPIV3Schema: &extv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr(true)},
			}}},
		},
	}
	if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{Paths: []string{crds}, CRDs: []*extv1.CustomResourceDefinition{monitors}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, ns := range []string{"team-a", "team-b"} {
		if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}

	kc, err := NamespaceKubeconfig(ctx, e.Config, e.Client, "team-a", ServiceMonitorRule)
	if err != nil {
		t.Fatal(err)
	}
	if err := HelmProviderConfig(ctx, e.Client, "team-a", kc); err != nil {
		t.Fatal(err)
	}
	// Writing both again, as a cluster/stack restarted over the same
	// apiserver would, updates them.
	if err := HelmProviderConfig(ctx, e.Client, "team-a", kc); err != nil {
		t.Fatalf("writing the ProviderConfig a second time: %v", err)
	}

	// The ProviderConfig provider-helm reads, and the kubeconfig it names.
	pc := &unstructured.Unstructured{}
	pc.SetAPIVersion("helm.m.crossplane.io/v1beta1")
	pc.SetKind("ProviderConfig")
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "default"}, pc); err != nil {
		t.Fatal(err)
	}
	ref, _, _ := unstructured.NestedStringMap(pc.Object, "spec", "credentials", "secretRef")
	if diff := cmp.Diff(map[string]string{"namespace": "team-a", "name": HelmKubeconfigSecret, "key": HelmKubeconfigKey}, ref); diff != "" {
		t.Errorf("the ProviderConfig's secretRef: -want, +got:\n%s", diff)
	}
	s := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: ref["name"]}, s); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(s.Data[ref["key"]])
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	cm := func(ns string) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}}
	}
	monitor := func(ns string) client.Object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("monitoring.coreos.com/v1")
		u.SetKind("ServiceMonitor")
		u.SetNamespace(ns)
		u.SetName("probe")
		return u
	}
	cases := map[string]struct {
		reason  string
		obj     client.Object
		allowed bool
	}{
		"ConfigMapInItsNamespace": {
			reason:  "What the chart installs in the tenant's namespace, ClusterRole admin allows.",
			obj:     cm("team-a"),
			allowed: true,
		},
		"ServiceMonitorInItsNamespace": {
			reason:  "The chart's ServiceMonitor, which admin does not cover, the extra rule allows.",
			obj:     monitor("team-a"),
			allowed: true,
		},
		"ConfigMapInAnotherNamespace": {
			reason: "A forged release record listing another namespace's objects cannot reach them.",
			obj:    cm("team-b"),
		},
		"ServiceMonitorInAnotherNamespace": {
			reason: "The extra rule is a Role: it grants nothing outside the namespace.",
			obj:    monitor("team-b"),
		},
		"ClusterRoleBinding": {
			reason: "A forged hook's cluster-scoped object cannot be created.",
			obj: &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "tenant-takes-the-cluster"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "team-a", Name: HelmServiceAccount}},
			},
		},
		"Namespace": {
			reason: "Nor a namespace.",
			obj:    &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-c"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tenant.Create(ctx, tc.obj)
			switch {
			case tc.allowed && err != nil:
				t.Errorf("%s\nwant created, got %v", tc.reason, err)
			case !tc.allowed && !kerrors.IsForbidden(err):
				t.Errorf("%s\nwant Forbidden, got %v", tc.reason, err)
			}
		})
	}
}
