package backup

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
)

// maxStatusCollections is the most collections status lists, as the CRD's
// maxItems says: a status the apiserver refuses would never be recorded.
const maxStatusCollections = 1000

// apply copies a backup's progress into the observation.
func apply(obs *v1alpha1.BackupObservation, st usecase.Status) {
	if !st.StartedAt.IsZero() && obs.StartTime == nil {
		t := metav1.NewTime(st.StartedAt)
		obs.StartTime = &t
	}
	if st.ShardsTotal == 0 && len(st.Collections) == 0 {
		return
	}
	obs.Progress = &v1alpha1.Progress{ShardsDone: int32(st.ShardsDone), ShardsTotal: int32(st.ShardsTotal), BytesDone: st.BytesDone}
	obs.ShardsReused = int32(st.ShardsReused)
	names := make([]string, 0, len(st.Collections))
	for n := range st.Collections {
		names = append(names, n)
	}
	sort.Strings(names)
	var total int64
	obs.Collections = nil
	for _, n := range names {
		c := v1alpha1.CollectionBackup{Name: n, ShardNumber: uint32(st.ShardNumbers[n])}
		for _, s := range st.Collections[n] {
			c.ShardsDone++
			c.SizeBytes += s.SizeBytes
		}
		total += c.SizeBytes
		// The schema holds at most maxStatusCollections; the manifest
		// holds them all, and the progress counts them all.
		if len(obs.Collections) < maxStatusCollections {
			obs.Collections = append(obs.Collections, c)
		}
	}
	obs.Size = humanBytes(total)
}

func progressMessage(p *v1alpha1.Progress, retrying string) string {
	if p == nil {
		return "Discovering the cluster's shards"
	}
	msg := fmt.Sprintf("Backed up %d of %d shards (%s)", p.ShardsDone, p.ShardsTotal, humanBytes(p.BytesDone))
	if retrying != "" {
		msg += "; " + retrying
	}
	return msg
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
