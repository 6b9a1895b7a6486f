package restore

import (
	"context"
	"errors"

	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
)

// cancelOnGone stops a Restore's job when the Restore goes away. The managed
// reconciler does not call Observe or Delete for a resource whose management
// policies leave the external resource behind (an orphan), so without this a
// job would keep restoring for a resource that no longer exists.
type cancelOnGone struct {
	inner    reconcile.Reconciler
	kube     client.Reader
	runner   *jobs.Runner[jobResult]
	recorder event.Recorder
}

func (c *cancelOnGone) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	r := &v1alpha1.Restore{}
	err := c.kube.Get(ctx, req.NamespacedName, r)
	switch {
	case kerrors.IsNotFound(err):
		c.runner.CancelNamed(req.Namespace + "/" + req.Name)
	case err == nil && meta.WasDeleted(r):
		// A restore stopped by its deletion says once what it leaves: its
		// status, which listed what it created, goes with it.
		if _, running := c.runner.Get(string(r.UID)); running {
			c.recorder.Event(r, event.Warning(reasonStopped, errors.New(truncate(stoppedMessage(&r.Status.AtProvider), maxEventBytes))))
		}
		c.runner.Cancel(string(r.UID))
	}
	return c.inner.Reconcile(ctx, req)
}
