// Package v1alpha1 contains the managed resources of provider-qdrantops:
// Backup, Restore and BackupSchedule, and the provider's configuration types.
// +kubebuilder:object:generate=true
// +groupName=ops.qdrantops.io
// +versionName=v1alpha1
package v1alpha1
