// Package config adds the controllers that account for the usages of
// ProviderConfigs and ClusterProviderConfigs, so that one in use cannot be
// deleted from under the resources that need it.
package config

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/providerconfig"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// Setup adds the ProviderConfig and ClusterProviderConfig controllers. Both
// count the namespaced ProviderConfigUsages that managed resources record.
func Setup(mgr ctrl.Manager, o controller.Options) error {
	for _, k := range []struct {
		config  client.Object
		gvk     resource.ProviderConfigKinds
		refKind string
	}{
		{&v1alpha1.ProviderConfig{}, resource.ProviderConfigKinds{Config: v1alpha1.ProviderConfigGroupVersionKind, Usage: v1alpha1.ProviderConfigUsageGroupVersionKind, UsageList: v1alpha1.ProviderConfigUsageListGroupVersionKind}, v1alpha1.ProviderConfigKind},
		{&v1alpha1.ClusterProviderConfig{}, resource.ProviderConfigKinds{Config: v1alpha1.ClusterProviderConfigGroupVersionKind, Usage: v1alpha1.ProviderConfigUsageGroupVersionKind, UsageList: v1alpha1.ProviderConfigUsageListGroupVersionKind}, v1alpha1.ClusterProviderConfigKind},
	} {
		name := providerconfig.ControllerName(k.gvk.Config.GroupKind().String())
		r := providerconfig.NewReconciler(mgr, k.gvk,
			providerconfig.WithLogger(o.Logger.WithValues("controller", name)),
			providerconfig.WithRecorder(event.NewAPIRecorder(mgr.GetEventRecorderFor(name)))) //nolint:staticcheck // SA1019: crossplane-runtime v2.4.0's event.NewAPIRecorder takes only the old events API's recorder.
		if err := ctrl.NewControllerManagedBy(mgr).
			Named(name).
			WithOptions(o.ForControllerRuntime()).
			For(k.config).
			Watches(&v1alpha1.ProviderConfigUsage{}, &resource.EnqueueRequestForProviderConfig{Kind: k.refKind}).
			Complete(ratelimiter.NewReconciler(name, r, o.GlobalRateLimiter)); err != nil {
			return err
		}
	}
	return nil
}
