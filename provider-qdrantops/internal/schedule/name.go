package schedule

import (
	"strconv"
	"strings"
	"time"
)

// maxNameLength is the longest Backup name: a Backup's name is a DNS label
// and a segment of every object key of the backup, whose key budget counts it
// at 63 characters (see apis/ops/v1alpha1/backup_types.go).
const maxNameLength = 63

// BackupName returns the name of the Backup that schedule creates for tick:
// "<schedule>-<unix seconds of tick>". It depends on nothing else, so a
// provider restart or a second replica computes the same name for a tick and
// the apiserver's AlreadyExists keeps a tick from getting two Backups.
//
// The schedule's name is cut so that the result has at most 63 characters
// (the CRD holds schedule names to 52, which leaves room for ticks until the
// year 2286; the cut keeps later ticks valid). The cut depends only on the
// length of the suffix and the suffix's digits hold no '-', so the text after
// the last '-' tells the tick back: two ticks of one schedule never share a
// name. Dots, which a Kubernetes name may hold and a DNS label may not, become
// '-'. Ticks are whole seconds after 1970; the fraction of a second is dropped.
func BackupName(schedule string, tick time.Time) string {
	suffix := "-" + strconv.FormatInt(tick.Unix(), 10)
	prefix := strings.ReplaceAll(schedule, ".", "-")
	if n := maxNameLength - len(suffix); len(prefix) > n {
		prefix = prefix[:n]
	}
	return prefix + suffix
}
