package stack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Addresses of the packages' processes in the private network namespace.
const (
	// FunctionPort is the port the Deployment runtime's function Service
	// has; core dials it at the endpoint the runtime writes.
	FunctionPort = 9443
	// ProviderMetricsAddr serves provider-qdrantops's metrics.
	ProviderMetricsAddr = "127.0.0.1:26430"
	providerProbeAddr   = "127.0.0.1:26431"
)

// runRevisions plays Crossplane's External package runtime: for each active
// revision of the function, provider-qdrantops and provider-helm it has not
// started yet, it starts the package's program as the Deployment runtime
// would, and reports the revision's runtime healthy.
func (s *Stack) runRevisions(ctx context.Context) error {
	for _, k := range []schema.GroupVersionKind{ProviderRevisionKind, FunctionRevisionKind} {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(k)
		if err := s.Kube.List(ctx, l); err != nil {
			return err
		}
		for i := range l.Items {
			rev := &l.Items[i]
			if st, _, _ := unstructured.NestedString(rev.Object, "spec", "desiredState"); st != "Active" {
				continue
			}
			if err := s.prepare(ctx, rev); err != nil {
				return fmt.Errorf("cannot prepare %s %s: %w", k.Kind, rev.GetName(), err)
			}
			if err := s.runRevision(ctx, rev); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepare does what the Deployment runtime does before Crossplane
// establishes a revision's objects: TLS Secrets signed by Crossplane's root
// CA for the Service named after the package (the server one's certificate
// goes into the caBundle of conversion webhooks), recorded in the revision's
// status, and a function's endpoint.
func (s *Stack) prepare(ctx context.Context, rev *unstructured.Unstructured) error {
	if s.prepared[rev.GetName()] {
		return nil
	}
	svc := rev.GetLabels()["pkg.crossplane.io/package"]
	status := map[string]string{}
	for f, suffix := range map[string]string{"tlsServerSecretName": "-tls-server", "tlsClientSecretName": "-tls-client"} { //nolint:gosec // G101: names of Secrets, not credentials.
		// With the External runtime the package manager leaves these out of
		// the revision's spec; the names are the ones it would set.
		name, _, _ := unstructured.NestedString(rev.Object, "spec", f)
		if name == "" {
			name = svc + suffix
		}
		if err := s.certSecret(ctx, name, svc, rev); err != nil {
			return err
		}
		status[f] = name
	}
	if rev.GetKind() == FunctionRevisionKind.Kind {
		status["endpoint"] = fmt.Sprintf("dns:///%s.%s:%d", svc, Namespace, FunctionPort)
	}
	if err := s.updateStatus(ctx, rev, status, nil); err != nil {
		return err
	}
	s.prepared[rev.GetName()] = true
	return nil
}

// runRevision starts the program of a revision the stack runs, once
// Crossplane established its objects (RevisionHealthy: its CRDs exist, and a
// provider's ClusterRoles are being made), and reports its runtime healthy.
func (s *Stack) runRevision(ctx context.Context, rev *unstructured.Unstructured) error {
	var run func(context.Context, *unstructured.Unstructured) (*Process, error)
	switch pkg := rev.GetLabels()["pkg.crossplane.io/package"]; {
	case rev.GetKind() == FunctionRevisionKind.Kind && pkg == FunctionName:
		run = s.runFunction
	case rev.GetKind() == ProviderRevisionKind.Kind && pkg == ProviderName:
		run = s.runProviderQdrantops
	case rev.GetKind() == ProviderRevisionKind.Kind && pkg == HelmName:
		run = s.runProviderHelm
	default:
		// provider-upjet-aws's packages: nothing reconciles S3 buckets on
		// the test ground.
		return nil
	}
	if p, ok := s.runtimes[rev.GetName()]; ok {
		return p.alive()
	}
	if condition(rev, "RevisionHealthy").Status != "True" {
		return nil
	}
	p, err := run(ctx, rev)
	if err != nil {
		return fmt.Errorf("cannot run %s: %w", rev.GetName(), err)
	}
	s.runtimes[rev.GetName()] = p
	return s.updateStatus(ctx, rev, nil, map[string]any{
		"type": "RuntimeHealthy", "status": "True", "reason": "HealthyPackageRevision",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	})
}

// runFunction starts compose-qdrant with a server certificate signed by
// Crossplane's root CA for the Service name the Deployment runtime would
// create, maps that name to loopback, and writes the endpoint core dials.
func (s *Stack) runFunction(ctx context.Context, rev *unstructured.Unstructured) (*Process, error) {
	svc := rev.GetLabels()["pkg.crossplane.io/package"]
	host := svc + "." + Namespace
	// Its certificates, as the Deployment mounts the server Secret.
	secret, _, _ := unstructured.NestedString(rev.Object, "status", "tlsServerSecretName")
	certs := s.path("function-certs")
	if err := s.secretToDir(ctx, secret, certs); err != nil {
		return nil, err
	}
	if err := s.AddHosts(map[string]string{host: "127.0.0.1"}); err != nil {
		return nil, err
	}
	bin, err := s.runtimeBinary(FunctionPath+":"+Version, "function-compose-qdrant")
	if err != nil {
		return nil, err
	}
	// No arguments, as the Deployment runtime runs it: it serves :9443.
	p, err := s.start("function-compose-qdrant", []string{"TLS_SERVER_CERTS_DIR=" + certs}, bin)
	if err != nil {
		return nil, err
	}
	if err := waitListening(ctx, p, fmt.Sprintf("127.0.0.1:%d", FunctionPort)); err != nil {
		return nil, err
	}
	endpoint, _, _ := unstructured.NestedString(rev.Object, "status", "endpoint")
	s.progress("function %s running with mTLS from crossplane-root-ca at %s", svc, endpoint)
	return p, nil
}

// runProviderQdrantops starts provider-qdrantops under the ServiceAccount
// its revision's RBAC was granted to.
func (s *Stack) runProviderQdrantops(ctx context.Context, rev *unstructured.Unstructured) (*Process, error) {
	kubeconfig, err := s.serviceAccount(ctx, rev)
	if err != nil {
		return nil, err
	}
	bin, err := s.runtimeBinary(ProviderPath+":"+Version, "provider-qdrantops")
	if err != nil {
		return nil, err
	}
	// Its metrics and probe addresses as a DeploymentRuntimeConfig would
	// set them: here every program shares one network namespace, and
	// provider-helm holds :8080.
	p, err := s.start("provider-qdrantops", []string{"KUBECONFIG=" + kubeconfig, "POD_NAMESPACE=" + Namespace}, bin,
		"--metrics-bind-address", ProviderMetricsAddr, "--health-probe-bind-address", providerProbeAddr)
	if err != nil {
		return nil, err
	}
	err = poll(ctx, time.Minute, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := p.alive(); err != nil {
			return false, err
		}
		return httpOK(ctx, "http://"+providerProbeAddr+"/readyz"), nil
	}, func() string { return p.Tail(20) })
	if err != nil {
		return nil, fmt.Errorf("provider-qdrantops not ready: %w", err)
	}
	s.progress("provider-qdrantops running under ServiceAccount %s/%s with the RBAC Crossplane granted its revision", Namespace, rev.GetName())
	return p, nil
}

// runProviderHelm starts provider-helm under its own revision's RBAC; the
// Releases' Helm actions use the kubeconfig in its ClusterProviderConfig.
func (s *Stack) runProviderHelm(ctx context.Context, rev *unstructured.Unstructured) (*Process, error) {
	kubeconfig, err := s.serviceAccount(ctx, rev)
	if err != nil {
		return nil, err
	}
	dir, err := s.tool(ctx, "provider-helm")
	if err != nil {
		return nil, err
	}
	p, err := s.start("provider-helm", []string{"KUBECONFIG=" + kubeconfig, "POD_NAMESPACE=" + Namespace}, filepath.Join(dir, "provider"), "--poll", "10s")
	if err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second)
	if err := p.alive(); err != nil {
		return nil, err
	}
	s.progress("provider-helm running under ServiceAccount %s/%s with the RBAC Crossplane granted its revision", Namespace, rev.GetName())
	return p, nil
}

// serviceAccount makes what the Deployment runtime makes for a provider
// revision (a ServiceAccount and a Deployment naming it, both controlled by
// the revision; the Deployment scaled to zero, since the stack runs the
// program), waits for the RBAC manager to bind the revision's system
// ClusterRole to that ServiceAccount, and writes a kubeconfig with a token
// of it.
func (s *Stack) serviceAccount(ctx context.Context, rev *unstructured.Unstructured) (string, error) {
	owner := controllerRef(rev)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: rev.GetName(), Namespace: Namespace, OwnerReferences: []metav1.OwnerReference{owner}}}
	if err := s.Kube.Create(ctx, sa); err != nil && !kerrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("cannot create ServiceAccount: %w", err)
	}
	labels := map[string]string{"pkg.crossplane.io/revision": rev.GetName()}
	image, _, _ := unstructured.NestedString(rev.Object, "status", "resolvedImage")
	if image == "" {
		image, _, _ = unstructured.NestedString(rev.Object, "spec", "image")
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: rev.GetName(), Namespace: Namespace, OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: sa.Name,
					Containers:         []corev1.Container{{Name: "package-runtime", Image: image}},
				},
			},
		},
	}
	if err := s.Kube.Create(ctx, d); err != nil && !kerrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("cannot create the runtime Deployment: %w", err)
	}
	crb := &rbacv1.ClusterRoleBinding{}
	name := "crossplane:provider:" + rev.GetName() + ":system"
	err := poll(ctx, time.Minute, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := s.Kube.Get(ctx, types.NamespacedName{Name: name}, crb); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		for _, sub := range crb.Subjects {
			if sub.Kind == "ServiceAccount" && sub.Name == sa.Name && sub.Namespace == Namespace {
				return true, nil
			}
		}
		return false, nil
	}, func() string { return "the RBAC manager did not bind ClusterRoleBinding " + name })
	if err != nil {
		return "", err
	}
	kc, err := s.tokenKubeconfig(ctx, sa)
	if err != nil {
		return "", err
	}
	path := s.path("kubeconfig-" + rev.GetName())
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// tokenKubeconfig is a kubeconfig of the test ground with a token of a
// ServiceAccount.
func (s *Stack) tokenKubeconfig(ctx context.Context, sa *corev1.ServiceAccount) ([]byte, error) {
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](4 * 3600)}}
	if err := s.Kube.SubResource("token").Create(ctx, sa, tr); err != nil {
		return nil, fmt.Errorf("cannot request a token for ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testbed"] = &clientcmdapi.Cluster{Server: s.Config.Host, CertificateAuthorityData: s.Config.CAData}
	kc.AuthInfos[sa.Name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: sa.Name}
	kc.CurrentContext = "sa"
	return clientcmd.Write(*kc)
}

// updateStatus sets status fields and a condition of a revision, as the
// Deployment runtime's reconciler does.
func (s *Stack) updateStatus(ctx context.Context, rev *unstructured.Unstructured, fields map[string]string, cond map[string]any) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(rev.GroupVersionKind())
		if err := s.Kube.Get(ctx, types.NamespacedName{Name: rev.GetName()}, cur); err != nil {
			return err
		}
		for k, v := range fields {
			if err := unstructured.SetNestedField(cur.Object, v, "status", k); err != nil {
				return err
			}
		}
		if cond != nil {
			cs, _, _ := unstructured.NestedSlice(cur.Object, "status", "conditions")
			replaced := false
			for i, old := range cs {
				if m, _ := old.(map[string]any); m["type"] == cond["type"] {
					cs[i], replaced = cond, true
				}
			}
			if !replaced {
				cs = append(cs, cond)
			}
			if err := unstructured.SetNestedSlice(cur.Object, cs, "status", "conditions"); err != nil {
				return err
			}
		}
		return s.Kube.Status().Update(ctx, cur)
	})
}

// certSecret signs a certificate for a Service's DNS names with Crossplane's
// root CA (Secret crossplane-root-ca), as the Deployment runtime does, and
// writes it with its key and the CA into a Secret the revision controls.
func (s *Stack) certSecret(ctx context.Context, name, svc string, rev *unstructured.Unstructured) error {
	ca := &corev1.Secret{}
	if err := s.Kube.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: "crossplane-root-ca"}, ca); err != nil {
		return fmt.Errorf("cannot read Crossplane's root CA: %w", err)
	}
	cb, _ := pem.Decode(ca.Data["tls.crt"])
	kb, _ := pem.Decode(ca.Data["tls.key"])
	if cb == nil || kb == nil {
		return errors.New("crossplane-root-ca holds no PEM certificate and key")
	}
	caCert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return err
	}
	caKey, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: svc},
		DNSNames:     []string{svc, svc + "." + Namespace, svc + "." + Namespace + ".svc", svc + "." + Namespace + ".svc.cluster.local"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("cannot sign the function's certificate: %w", err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, OwnerReferences: []metav1.OwnerReference{controllerRef(rev)}}}
	sec.Data = map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"ca.crt":  ca.Data["tls.crt"],
	}
	if err := s.Kube.Create(ctx, sec); err != nil && !kerrors.IsAlreadyExists(err) {
		return fmt.Errorf("cannot create Secret %s: %w", name, err)
	}
	return nil
}

func controllerRef(rev *unstructured.Unstructured) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: rev.GetAPIVersion(), Kind: rev.GetKind(), Name: rev.GetName(), UID: rev.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
}

func waitListening(ctx context.Context, p *Process, addr string) error {
	return poll(ctx, 30*time.Second, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := p.alive(); err != nil {
			return false, err
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, nil //nolint:nilerr // Not listening yet.
		}
		_ = c.Close()
		return true, nil
	}, func() string { return p.Name + " does not listen on " + addr + ":\n" + p.Tail(20) })
}

func httpOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
