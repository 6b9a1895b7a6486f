package stack

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// leaseDuration is how long a node lease lasts, as a kubelet's does.
const leaseDuration = 40 * time.Second

// keepNodesAlive renews a Lease for each of kwok's fake nodes every 10
// seconds, as a kubelet does, until the stack closes. testbed.sh starts kwok
// without --node-lease-duration-seconds, so kwok renews no lease while its
// node-heartbeat-with-lease stage refreshes the node's status only every 10
// to 20 minutes: kube-controller-manager then takes the node for lost after
// its grace period (50 s), and marks every pod on it not ready, and the
// QdrantClusters running there fall back to Pending.
func (s *Stack) keepNodesAlive() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.onClose(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			s.renewLeases(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Second):
			}
		}
	}()
}

func (s *Stack) renewLeases(ctx context.Context) {
	nodes := &corev1.NodeList{}
	if err := s.Kube.List(ctx, nodes); err != nil {
		return
	}
	for _, n := range nodes.Items {
		if n.Annotations["kwok.x-k8s.io/node"] != "fake" {
			continue
		}
		l := &coordinationv1.Lease{}
		now := metav1.NewMicroTime(time.Now())
		err := s.Kube.Get(ctx, types.NamespacedName{Namespace: corev1.NamespaceNodeLease, Name: n.Name}, l)
		if kerrors.IsNotFound(err) {
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: n.Name, OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID,
				}}},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: ptr.To(n.Name), LeaseDurationSeconds: ptr.To(int32(leaseDuration / time.Second)), RenewTime: &now,
				},
			}
			_ = s.Kube.Create(ctx, l)
			continue
		}
		if err != nil {
			continue
		}
		l.Spec.RenewTime = &now
		_ = s.Kube.Update(ctx, l, &client.UpdateOptions{})
	}
}
