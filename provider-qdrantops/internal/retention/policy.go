package retention

import (
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// PolicyFrom converts a BackupSchedule's RetentionPolicy. An absent policy or
// field is 0, so a schedule without a policy keeps every Completed backup.
func PolicyFrom(rp *v1alpha1.RetentionPolicy) Policy {
	if rp == nil {
		return Policy{}
	}
	return Policy{
		KeepLast:      intOr0(rp.KeepLast),
		KeepDaily:     intOr0(rp.KeepDaily),
		KeepWeekly:    intOr0(rp.KeepWeekly),
		KeepMonthly:   intOr0(rp.KeepMonthly),
		RetentionDays: intOr0(rp.RetentionDays),
	}
}

func intOr0(p *int32) int {
	if p == nil {
		return 0
	}
	return int(*p)
}
