package main

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/response"

	opsv1alpha1 "github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// reasonScheduleNotReporting is the reason of the XR's BackupOverdue
// condition while its BackupSchedule's controller has not said whether
// backups are on schedule: a new schedule, or one it cannot reconcile.
const reasonScheduleNotReporting = "ScheduleNotReporting"

// scheduleReport is what the BackupSchedule controller reports on the
// observed BackupSchedule.
type scheduleReport struct {
	name    string
	overdue xpv2.Condition
	at      opsv1alpha1.BackupScheduleObservation
}

// observeSchedule reads the observed BackupSchedule's report, or nil when
// none is observed.
func observeSchedule(observed map[resource.Name]resource.ObservedComposed) (*scheduleReport, error) {
	o, ok := observed[nameSchedule]
	if !ok {
		return nil, nil //nolint:nilnil // No schedule observed is no report and no error.
	}
	bs := &opsv1alpha1.BackupSchedule{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Resource.Object, bs); err != nil {
		return nil, errors.Wrap(err, "cannot decode the observed BackupSchedule")
	}
	return &scheduleReport{
		name:    bs.GetName(),
		overdue: bs.GetCondition(opsv1alpha1.TypeBackupOverdue),
		at:      bs.Status.AtProvider,
	}, nil
}

// backupStatus is the XR's status.backup: nil until the schedule's
// controller says whether backups are on schedule, so that a schedule it has
// not looked at yet, or cannot reconcile, never reads as on time.
func backupStatus(r *scheduleReport) *v1alpha1.BackupStatus {
	if r == nil || r.overdue.Status == corev1.ConditionUnknown {
		return nil
	}
	st := &v1alpha1.BackupStatus{
		LastSuccessfulTime: r.at.LastSuccessfulBackupTime,
		NextTime:           r.at.NextBackupTime,
		Overdue:            r.overdue.Status == corev1.ConditionTrue,
	}
	if st.Overdue {
		st.Message = r.overdue.Message
	}
	return st
}

// setOverdueCondition mirrors the schedule's BackupOverdue condition onto the
// XR, where 'kubectl wait' and Argo CD look. While the schedule has not said,
// the XR's is Unknown rather than absent, so that a condition from an earlier
// schedule cannot linger as if it were current.
func setOverdueCondition(rsp *fnv1.RunFunctionResponse, r *scheduleReport) {
	typ, c := string(opsv1alpha1.TypeBackupOverdue), r.overdue
	var co *response.ConditionOption
	switch c.Status {
	case corev1.ConditionTrue:
		co = response.ConditionTrue(rsp, typ, string(c.Reason))
	case corev1.ConditionFalse:
		co = response.ConditionFalse(rsp, typ, string(c.Reason))
	default:
		response.ConditionUnknown(rsp, typ, reasonScheduleNotReporting).
			WithMessage("BackupSchedule " + r.name + " has not reported whether its backups are on schedule yet").
			TargetComposite()
		return
	}
	if c.Message != "" {
		co = co.WithMessage(c.Message)
	}
	co.TargetComposite()
}
