package main

import (
	"context"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// Function composes a QdrantCluster.
type Function struct {
	fnv1.UnimplementedFunctionRunnerServiceServer

	log logging.Logger
	// random generates API keys; crypto/rand outside tests.
	random io.Reader
}

// RunFunction composes a QdrantCluster into a Helm Release of the qdrant
// chart, its Secrets, and optionally a backup bucket and BackupSchedule.
func (f *Function) RunFunction(_ context.Context, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, error) {
	rsp := response.To(req, response.DefaultTTL)

	oxr, err := request.GetObservedCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get observed composite resource"))
		return rsp, nil
	}
	xr := &v1alpha1.QdrantCluster{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(oxr.Resource.Object, xr); err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot decode the QdrantCluster"))
		return rsp, nil
	}
	log := f.log.WithValues("xr", xr.Namespace+"/"+xr.Name)

	// The chart's StatefulSet tells how many nodes are ready.
	ns := xr.Namespace
	rsp.Requirements = &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{
		requiredStatefulSet: {ApiVersion: "apps/v1", Kind: "StatefulSet", Match: &fnv1.ResourceSelector_MatchName{MatchName: fullname(xr.Name)}, Namespace: &ns},
	}}
	if err := checkValueStrings(xr); err != nil {
		// Nothing is composed from a spec that could write its own objects
		// into the chart; what was composed before stays as it is.
		response.Fatal(rsp, err)
		return rsp, nil
	}
	sts, stsKnown, err := request.GetRequiredResource(req, requiredStatefulSet)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get the StatefulSet"))
		return rsp, nil
	}
	observed, err := request.GetObservedComposedResources(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get observed composed resources"))
		return rsp, nil
	}
	desired, err := request.GetDesiredComposedResources(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get desired composed resources"))
		return rsp, nil
	}

	key, generated, err := apiKey(xr, observed, f.random)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	add := func(name resource.Name, o *composed.Unstructured) {
		desired[name] = &resource.DesiredComposed{Resource: o}
	}
	if generated != "" {
		add(nameAPIKey, secret(apiKeySecret(xr.Name), ns, map[string]string{apiKeyKey: generated}))
	}
	add(nameConnection, connectionSecret(xr, key, generated))

	var releasedSize string
	if r, ok := observed[nameRelease]; ok {
		releasedSize, _ = r.Resource.GetString("spec.forProvider.values.persistence.size")
	}
	size, refused := volumeSize(xr.Name, xr.Spec.Persistence.Size, releasedSize, volumeOf(stsKnown, sts))
	if refused != nil {
		response.ConditionFalse(rsp, typePersistenceResized, refused.reason).WithMessage(refused.message).TargetComposite()
		response.Warning(rsp, errors.New(refused.message)).TargetComposite()
	} else {
		// Said every time: Crossplane keeps a condition on the XR until a
		// function says otherwise, so an earlier refusal must be cleared.
		response.ConditionTrue(rsp, typePersistenceResized, reasonSizeApplied).WithMessage("volumes are asked for at " + size.String()).TargetComposite()
	}
	cfg, err := readInput(req)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	add(nameRelease, release(xr, cfg, values(xr, key, size)))

	if b := xr.Spec.Backup; b != nil {
		// A bucket the XR may not create is refused with the schedule that
		// would write into it; the cluster itself is still composed.
		bucket, err := bucketName(xr, observed)
		switch {
		case err != nil:
			response.ConditionFalse(rsp, typeBackupConfigured, "NamedBucketNotOwned").WithMessage(err.Error()).TargetComposite()
			response.Warning(rsp, err).TargetComposite()
		case b.Bucket.Create && !bucketReady(observed) && observed[nameSchedule].Resource == nil:
			// The schedule waits for the bucket it creates: until the S3
			// provider says the bucket is there and ours, a backup could
			// only fail, or write into a bucket of that name somebody else
			// made first. A schedule already composed stays: dropping it
			// would delete it, and its Backups with it.
			for name, o := range bucketResources(xr, bucket) {
				add(name, o)
			}
			response.ConditionFalse(rsp, typeBackupConfigured, reasonBucketNotReady).
				WithMessage(fmt.Sprintf("the BackupSchedule is composed once the bucket %s is Ready", bucket)).TargetComposite()
		default:
			if b.Bucket.Create {
				for name, o := range bucketResources(xr, bucket) {
					add(name, o)
				}
			}
			add(nameSchedule, schedule(xr, bucket))
			response.ConditionTrue(rsp, typeBackupConfigured, reasonScheduleComposed).
				WithMessage(fmt.Sprintf("backups go to bucket %s on schedule %q", bucket, b.Schedule)).TargetComposite()
		}
	}

	o := observe(observed, sts)
	if _, ok := desired[nameSchedule]; ok {
		// Only a schedule the XR still composes reports for it: one it
		// stopped composing is about to be deleted.
		r, err := observeSchedule(observed)
		if err != nil {
			response.Warning(rsp, err).TargetComposite()
		}
		if r != nil {
			o.schedule = r
			setOverdueCondition(rsp, r)
		}
	}
	for name, d := range desired {
		d.Ready = ready(name, observed, xr, o)
	}
	if o.releaseFailed() {
		response.ConditionFalse(rsp, "ReleaseHealthy", "ReleaseFailed").WithMessage("the Helm release failed: " + o.releaseMessage).TargetComposite()
	}

	dxr, err := request.GetDesiredCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot get desired composite resource"))
		return rsp, nil
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ptr(status(xr, o)))
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot encode status"))
		return rsp, nil
	}
	if err := dxr.Resource.SetValue("status", st); err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot set status"))
		return rsp, nil
	}
	if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot set desired composite resource"))
		return rsp, nil
	}
	if err := response.SetDesiredComposedResources(rsp, desired); err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot set desired composed resources"))
		return rsp, nil
	}
	log.Debug("Composed", "resources", len(desired), "phase", st["phase"])
	return rsp, nil
}

// release is the provider-helm Release of the qdrant chart. Its name in Helm
// is the XR's, set by the external-name annotation; it installs into the XR's
// namespace whatever the values say, with the identity of the provider-helm
// config the input names (by default the ProviderConfig "default" of the XR's
// namespace): Helm's release records are Secrets the tenant can write, and
// provider-helm acts on them with that identity.
func release(xr *v1alpha1.QdrantCluster, cfg config, values map[string]any) *composed.Unstructured {
	r := composed.New()
	r.SetAPIVersion("helm.m.crossplane.io/v1beta1")
	r.SetKind("Release")
	r.SetName(xr.Name)
	r.SetNamespace(xr.Namespace)
	r.SetAnnotations(map[string]string{"crossplane.io/external-name": xr.Name})
	r.Object["spec"] = map[string]any{
		"forProvider": map[string]any{
			"chart":     map[string]any{"name": cfg.chart.Name, "repository": cfg.chart.Repository, "version": cfg.chart.Version},
			"namespace": xr.Namespace,
			// The XR's namespace exists; creating one is a cluster-wide
			// right a tenant namespace's identity does not have.
			"skipCreateNamespace": true,
			"values":              values,
		},
		"providerConfigRef": map[string]any{"kind": cfg.providerConfig.Kind, "name": cfg.providerConfig.Name},
	}
	return r
}

func ptr[T any](v T) *T { return &v }
