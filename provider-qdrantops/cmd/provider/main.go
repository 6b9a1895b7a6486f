// Command provider runs provider-qdrantops: the Backup, Restore and
// BackupSchedule controllers and the ProviderConfig controllers.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"
	// Schedules name IANA time zones; provider images are built from
	// scratch, without the system's zoneinfo.
	_ "time/tzdata"

	// The runtime image has no CA bundle: HTTPS to S3 and Qdrant trusts the
	// Mozilla roots compiled in when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/feature"
	"github.com/crossplane/crossplane-runtime/v2/pkg/gate"
	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/customresourcesgate"

	"github.com/qdrantops/qdrantops/apis"
	qcontroller "github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/memlimit"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "provider-qdrantops:", err)
		os.Exit(1)
	}
}

func run() error {
	debug := flag.Bool("debug", false, "log at debug level")
	poll := flag.Duration("poll", time.Minute, "how often to check resources whose state is settled")
	maxRate := flag.Int("max-reconcile-rate", 10, "reconciles per second, across controllers")
	// Crossplane's provider Deployment exposes container port 8080 as
	// "metrics": Prometheus scrapes the pod's address there, so the
	// endpoint listens on every interface of the pod by default.
	metricsAddr := flag.String("metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	probeAddr := flag.String("health-probe-bind-address", "127.0.0.1:8081", "address of the health and readiness probes")
	// One writer: during a rolling update two pods would otherwise run the
	// same Backup and abort each other's uploads. Off only for local runs.
	leaderElection := flag.Bool("leader-election", os.Getenv("LEADER_ELECTION") != "false", "elect a leader among replicas; only the leader runs controllers and jobs (LEADER_ELECTION=false turns it off)")
	leaderNamespace := flag.String("leader-election-namespace", leaderElectionNamespace(), "namespace of the leader election Lease (default: POD_NAMESPACE, else the pod's own, else default)")
	// The package declares the safe-start capability: Crossplane installs the
	// managed resources' CRDs only once they are activated.
	safeStart := flag.Bool("enable-safe-start", os.Getenv("ENABLE_SAFE_START") != "false", "start controllers once their CRDs exist (ENABLE_SAFE_START=false turns it off)")
	shardRetry := flag.Duration("shard-retry-delay", 5*time.Second, "first wait between tries of a shard transfer")
	transferMemory := flag.Int64("max-transfer-memory", qcontroller.DefaultTransferMemory, "bytes of part buffers every transfer of the process shares; transfers wait for them, never exceed them")
	queueWait := flag.Duration("max-queue-wait", qcontroller.DefaultMaxQueueWait, "how long a backup or restore waits for its Qdrant cluster, busy with other backups or restores, before it fails")
	scheduleRate := flag.Int("max-schedule-reconcile-rate", qcontroller.DefaultScheduleReconcileRate, "reconciles per second of the BackupSchedule controller, apart from --max-reconcile-rate: ticks shared by many schedules start within a second")
	urlTTL := flag.Duration("restore-url-ttl", 15*time.Minute, "lifetime of the presigned URL a restore hands Qdrant for each shard, made just before the shard is recovered")
	flag.Parse()

	zl := zap.New(zap.UseDevMode(*debug))
	ctrl.SetLogger(zl)
	log := logging.NewLogrLogger(zl.WithName("provider-qdrantops"))
	memlimit.Apply(log)

	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, extv1.AddToScheme, apis.AddToScheme} {
		if err := add(s); err != nil {
			return fmt.Errorf("cannot build scheme: %w", err)
		}
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("cannot load kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  s,
		Metrics:                 metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:  *probeAddr,
		LeaderElection:          *leaderElection,
		LeaderElectionID:        "provider-qdrantops.ops.qdrantops.io",
		LeaderElectionNamespace: *leaderNamespace,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// The CRD gate needs names and conditions, not schemas.
			&extv1.CustomResourceDefinition{}: {Transform: customresourcesgate.TransformStripCRDSchema},
		}},
	})
	if err != nil {
		return fmt.Errorf("cannot create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	m, err := metrics.New(ctrlmetrics.Registry)
	if err != nil {
		return fmt.Errorf("cannot register metrics: %w", err)
	}
	rm, err := metrics.NewRestore(ctrlmetrics.Registry)
	if err != nil {
		return fmt.Errorf("cannot register restore metrics: %w", err)
	}
	sm, err := metrics.NewSchedule(ctrlmetrics.Registry)
	if err != nil {
		return fmt.Errorf("cannot register schedule metrics: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	o := controller.Options{
		Logger:                  log,
		GlobalRateLimiter:       ratelimiter.NewGlobal(*maxRate),
		PollInterval:            *poll,
		MaxConcurrentReconciles: *maxRate,
		Features:                &feature.Flags{},
	}
	budget, err := s3store.NewBudget(*transferMemory, s3store.DefaultPartSize)
	if err != nil {
		return fmt.Errorf("invalid --max-transfer-memory: %w", err)
	}
	d := qcontroller.Deps{Context: ctx, Metrics: m, RestoreMetrics: rm, ScheduleMetrics: sm, ScheduleReconcileRate: *scheduleRate, RestoreURLTTL: *urlTTL, ShardRetryDelay: *shardRetry, Budget: budget, MaxQueueWait: *queueWait}
	if *safeStart {
		o.Gate = new(gate.Gate[schema.GroupVersionKind])
		if err := customresourcesgate.Setup(mgr, o); err != nil {
			return fmt.Errorf("cannot set up the CRD gate: %w", err)
		}
		if err := qcontroller.SetupGated(mgr, o, d); err != nil {
			return err
		}
	} else if err := qcontroller.Setup(mgr, o, d); err != nil {
		return err
	}
	log.Info("Starting", "metrics", *metricsAddr, "probes", *probeAddr, "safeStart", *safeStart, "leaderElection", *leaderElection, "leaderElectionNamespace", *leaderNamespace)
	return mgr.Start(ctx)
}

// leaderElectionNamespace is where the Lease lives: the namespace Crossplane
// runs the provider in (it sets POD_NAMESPACE), else the pod's own, else
// "default", which every cluster has, for a provider run by hand.
func leaderElectionNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b))
	}
	return "default"
}
