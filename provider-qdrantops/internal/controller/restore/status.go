package restore

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// Bounds of status.atProvider.warnings, as the CRD's schema says: a status
// the API server refuses would never be recorded.
const (
	maxWarnings     = 20
	maxWarningBytes = 1024
	// maxMessageBytes bounds status.atProvider.error and a condition's
	// message: they take error texts, which have no bound of their own.
	maxMessageBytes = 4096
	// maxCauseBytes bounds the part of an error message that is the use
	// case's error text, leaving room for what the controller adds.
	maxCauseBytes = 2048
	// maxEventBytes bounds an Event's message: Kubernetes refuses a note
	// of more than 1 KiB.
	maxEventBytes = 1024
)

// jobResult is what a restore job reports: its progress and its journal.
type jobResult struct {
	Status usecase.Status
	// Journal is the latest journal persisted, starting with the one the
	// run resumed from; Journaled says that the run has started and
	// Journal holds it, so that a job still queued does not blank the
	// journal in status.
	Journal   usecase.Record
	Journaled bool
	// StartedAt is when the job left its cluster's queue.
	StartedAt time.Time
}

func (r jobResult) clone() jobResult {
	r.Status.Collections = append([]usecase.CollectionStatus(nil), r.Status.Collections...)
	r.Status.Warnings = append([]string(nil), r.Status.Warnings...)
	rec := usecase.Record{Created: append([]string(nil), r.Journal.Created...), Replaced: append([]string(nil), r.Journal.Replaced...), Recovered: map[string][]uint32{}}
	for k, v := range r.Journal.Recovered {
		rec.Recovered[k] = append([]uint32(nil), v...)
	}
	r.Journal = rec
	return r
}

// apply copies a restore job's progress into the observation. The journal
// is copied too: the reconciler writes the whole status, and must never
// write one that lacks an entry the job has persisted.
func apply(obs *v1alpha1.RestoreObservation, res jobResult) {
	st := res.Status
	if obs.StartTime == nil && !res.StartedAt.IsZero() {
		t := metav1.NewTime(res.StartedAt)
		obs.StartTime = &t
	}
	if st.SourceVersion != "" {
		obs.SourceQdrantVersion = st.SourceVersion
	}
	if st.TargetVersion != "" {
		obs.TargetQdrantVersion = st.TargetVersion
	}
	if st.ShardsTotal > 0 {
		obs.Progress = &v1alpha1.Progress{
			ShardsDone:  int32(st.ShardsDone),
			ShardsTotal: int32(st.ShardsTotal),
			BytesDone:   st.BytesUploaded + st.BytesByURL,
		}
	}
	if len(st.Warnings) > 0 {
		obs.Warnings = boundWarnings(st.Warnings)
	}
	if !res.Journaled {
		return
	}
	obs.RestoredCollections = collections(obs.RestoredCollections, st, res.Journal)
}

// boundWarnings keeps warnings within the schema's bounds, saying how many
// were left out.
func boundWarnings(ws []string) []string {
	out := make([]string, 0, min(len(ws), maxWarnings))
	for i, w := range ws {
		if i == maxWarnings-1 && len(ws) > maxWarnings {
			out = append(out, fmt.Sprintf("and %d more warnings", len(ws)-i))
			break
		}
		out = append(out, truncate(w, maxWarningBytes))
	}
	return out
}

// truncate shortens s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "..."
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

func phaseOf(st usecase.Status) v1alpha1.RestorePhase {
	if st.Phase == usecase.PhaseVerifying {
		return v1alpha1.RestoreVerifying
	}
	return v1alpha1.RestoreInProgress
}

func progressMessage(obs *v1alpha1.RestoreObservation, st usecase.Status) string {
	var msg string
	switch {
	case st.Phase == usecase.PhaseVerifying:
		msg = "Verifying the restored collections against the backup"
	case obs.Progress == nil:
		msg = "Reading the backup's manifest and checking the target"
	default:
		p := obs.Progress
		msg = fmt.Sprintf("Restored %d of %d shards (%s)", p.ShardsDone, p.ShardsTotal, humanBytes(p.BytesDone))
		if st.ShardsSkipped > 0 {
			msg += fmt.Sprintf(", %d of them recovered by an earlier run", st.ShardsSkipped)
		}
	}
	if st.Retrying != "" {
		msg += "; " + st.Retrying
	}
	return msg
}

// queueMessage says what a queued restore waits for. It names the job ahead
// only when it is of the same namespace: another tenant's backups and
// restores are none of this one's business.
func queueMessage(namespace, behind string, waited time.Duration) string {
	ahead := "another backup or restore of this Qdrant cluster"
	if ns, name, ok := strings.Cut(behind, "/"); ok && ns == namespace {
		ahead = name
	}
	return fmt.Sprintf("Waiting for %s to finish (waited %s): one backup or restore runs per Qdrant cluster at a time", ahead, waited.Round(time.Second))
}

// verifiedMessage says what the verification of a completed restore checked.
func verifiedMessage(st usecase.Status) string {
	verified, sampled := 0, 0
	for _, c := range st.Collections {
		if c.Verified {
			verified++
		}
		sampled += c.SampledPoints
	}
	msg := fmt.Sprintf("%d of %d collections match the backup: exact point counts equal", verified, len(st.Collections))
	if sampled > 0 {
		msg += fmt.Sprintf(", %d sampled points identical in vectors and payload", sampled)
	}
	if verified < len(st.Collections) {
		msg += "; the others differ as the warnings say"
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
