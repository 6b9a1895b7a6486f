package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// ConcurrencyPolicy says whether a scheduled backup may start while an earlier
// one still runs.
// +kubebuilder:validation:Enum=Forbid;Allow
type ConcurrencyPolicy string

// Concurrency policies.
const (
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	ConcurrencyAllow  ConcurrencyPolicy = "Allow"
)

// Labels a BackupSchedule puts on the Backups it creates. Retention reads
// them, together with the Backup's controller reference to the schedule, to
// find the schedule's Backups.
const (
	// LabelBackupSchedule names the schedule that created a Backup.
	LabelBackupSchedule = "ops.qdrantops.io/backup-schedule"
	// LabelScheduleTick is the Unix time, in seconds, of the tick a Backup
	// was created for.
	LabelScheduleTick = "ops.qdrantops.io/schedule-tick"
)

// Conditions of a BackupSchedule, besides Ready and Synced.
const (
	// TypeBackupOverdue is True when two ticks of the schedule passed
	// without a successful Backup (the last success is older than the tick
	// before the latest): its recovery point objective is missed.
	TypeBackupOverdue xpv2.ConditionType = "BackupOverdue"

	// ReasonNoRecentBackup: no Backup of the schedule completed since the
	// tick before the latest.
	ReasonNoRecentBackup xpv2.ConditionReason = "NoRecentBackup"
	// ReasonBackupsOnSchedule: a Backup completed since the tick before the
	// latest, or the schedule has not seen two ticks yet.
	ReasonBackupsOnSchedule xpv2.ConditionReason = "BackupsOnSchedule"
	// ReasonSuspended is the Ready reason of a suspended schedule: it
	// creates no Backups, and still prunes.
	ReasonSuspended xpv2.ConditionReason = "Suspended"

	// TypeRetention is False when retention chose Backups to prune and
	// could not hand them to the garbage collector; its message says why.
	// Ticks go on meanwhile, and pruning is tried again at each.
	TypeRetention xpv2.ConditionType = "Retention"

	// ReasonRetentionApplied: every Backup retention chose is pruned.
	ReasonRetentionApplied xpv2.ConditionReason = "Applied"
	// ReasonCannotPrune: a Backup retention chose could not be pruned.
	ReasonCannotPrune xpv2.ConditionReason = "CannotPrune"
)

// RetentionPolicy says which Completed backups a schedule keeps. A backup is
// kept when any rule keeps it; the newest Completed backup is always kept.
type RetentionPolicy struct {
	// KeepLast keeps this many of the newest backups.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	KeepLast *int32 `json:"keepLast,omitempty"`
	// KeepDaily keeps the newest backup of each of this many days.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	KeepDaily *int32 `json:"keepDaily,omitempty"`
	// KeepWeekly keeps the newest backup of each of this many ISO weeks.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	KeepWeekly *int32 `json:"keepWeekly,omitempty"`
	// KeepMonthly keeps the newest backup of each of this many months.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	KeepMonthly *int32 `json:"keepMonthly,omitempty"`
	// RetentionDays prunes backups older than this many days, whatever the rules
	// above keep (except the newest).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	RetentionDays *int32 `json:"retentionDays,omitempty"`
}

// BackupScheduleParameters are the configurable fields of a BackupSchedule.
type BackupScheduleParameters struct {
	// Schedule in cron format: five fields (minute hour day-of-month month
	// day-of-week), or a descriptor (@yearly, @monthly, @weekly, @daily,
	// @hourly, @every 6h). The time zone is set in timeZone, never here.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('CRON_TZ=') && !self.startsWith('TZ=')",message="set the schedule's time zone in timeZone, not in the schedule"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$') || self.matches(r'^@every [0-9][0-9.a-zµ]*$') || self.matches(r'^[^@\s]\S*(\s+\S+){4}$')`,message="schedule must be five cron fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily or @every 6h"
	Schedule string `json:"schedule"`

	// TimeZone of the schedule, an IANA name such as Europe/Berlin; UTC when
	// empty. Days, weeks and months of the retention policy are counted in it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	// +kubebuilder:validation:XValidation:rule="self != 'Local'",message="timeZone must name a zone (Local would depend on the provider's host)"
	TimeZone string `json:"timeZone,omitempty"`

	// Suspend stops new backups; retention still applies.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ConcurrencyPolicy says whether a backup may start while an earlier one
	// of this schedule still runs.
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// StartingDeadlineSeconds skips a tick that could not start within this
	// many seconds of its time; missed ticks are reported. Unset or 0: no
	// deadline. At most 366 days.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31622400
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// RetentionPolicy prunes the schedule's Completed backups.
	// +optional
	RetentionPolicy *RetentionPolicy `json:"retentionPolicy,omitempty"`

	// Template of the backups the schedule creates.
	Template BackupSource `json:"template"`
}

// BackupScheduleObservation is the observed state of a BackupSchedule.
type BackupScheduleObservation struct {
	// LastBackupTime is the tick time of the newest backup created.
	// +optional
	LastBackupTime *metav1.Time `json:"lastBackupTime,omitempty"`

	// LastBackupName is the name of the newest backup created.
	// +optional
	LastBackupName string `json:"lastBackupName,omitempty"`

	// LastSuccessfulBackupTime is when the newest Completed backup completed.
	// +optional
	LastSuccessfulBackupTime *metav1.Time `json:"lastSuccessfulBackupTime,omitempty"`

	// NextBackupTime is the next tick; empty while suspended.
	// +optional
	NextBackupTime *metav1.Time `json:"nextBackupTime,omitempty"`

	// LastTickTime is the newest tick the schedule has handled: it created
	// a Backup for it, skipped it (see missedTicks) or was suspended. Ticks
	// are counted from it, so that a restarted provider neither repeats nor
	// forgets one.
	// +optional
	LastTickTime *metav1.Time `json:"lastTickTime,omitempty"`

	// ActiveBackups names the backups of this schedule that are running.
	// +optional
	// +listType=set
	ActiveBackups []string `json:"activeBackups,omitempty"`

	// MissedTicks counts ticks skipped because they passed their starting
	// deadline or an earlier backup was still running.
	// +optional
	MissedTicks int64 `json:"missedTicks,omitempty"`

	// LastMissedTime is the newest skipped tick.
	// +optional
	LastMissedTime *metav1.Time `json:"lastMissedTime,omitempty"`

	// KeptBackups counts the Completed backups kept by retention.
	// +optional
	KeptBackups int32 `json:"keptBackups,omitempty"`

	// LastPruneTime is when retention last deleted a backup.
	// +optional
	LastPruneTime *metav1.Time `json:"lastPruneTime,omitempty"`
}

// A BackupScheduleSpec defines the desired state of a BackupSchedule.
// +kubebuilder:validation:XValidation:rule="!has(self.providerConfigRef) || size(self.providerConfigRef.name) <= 63",message="providerConfigRef.name must be at most 63 characters: Crossplane labels the ProviderConfigUsage with it, and label values are at most 63"
type BackupScheduleSpec struct {
	xpv2.ManagedResourceSpec `json:",inline"`
	ForProvider              BackupScheduleParameters `json:"forProvider"`
}

// A BackupScheduleStatus represents the observed state of a BackupSchedule.
type BackupScheduleStatus struct {
	xpv2.ManagedResourceStatus `json:",inline"`
	AtProvider                 BackupScheduleObservation `json:"atProvider,omitempty"`
}

// +kubebuilder:object:root=true

// A BackupSchedule creates Backups on a cron schedule and prunes them by
// retention.
// +kubebuilder:printcolumn:name="READY",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="SYNCED",type="string",JSONPath=".status.conditions[?(@.type=='Synced')].status"
// +kubebuilder:printcolumn:name="SCHEDULE",type="string",JSONPath=".spec.forProvider.schedule"
// +kubebuilder:printcolumn:name="SUSPENDED",type="boolean",JSONPath=".spec.forProvider.suspend"
// +kubebuilder:printcolumn:name="LAST SUCCESS",type="date",JSONPath=".status.atProvider.lastSuccessfulBackupTime"
// +kubebuilder:printcolumn:name="OVERDUE",type="string",JSONPath=".status.conditions[?(@.type=='BackupOverdue')].status"
// +kubebuilder:printcolumn:name="NEXT",type="string",JSONPath=".status.atProvider.nextBackupTime"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=qbs,categories={crossplane,managed,qdrant}
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="a BackupSchedule's name must be at most 52 characters: it leaves 11 for the suffix of the Backups it creates, whose names are at most 63"
type BackupSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BackupScheduleSpec   `json:"spec"`
	Status BackupScheduleStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupScheduleList contains a list of BackupSchedule.
type BackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupSchedule `json:"items"`
}
