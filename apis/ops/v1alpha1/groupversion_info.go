package v1alpha1

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Package type metadata.
const (
	Group   = "ops.qdrantops.io"
	Version = "v1alpha1"
)

var (
	// SchemeGroupVersion is group version used to register these objects.
	SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: SchemeGroupVersion}

	// AddToScheme adds the types of this group to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kind metadata of every type in this group.
var (
	BackupKind                     = reflect.TypeOf(Backup{}).Name()
	BackupGroupVersionKind         = SchemeGroupVersion.WithKind(BackupKind)
	RestoreKind                    = reflect.TypeOf(Restore{}).Name()
	RestoreGroupVersionKind        = SchemeGroupVersion.WithKind(RestoreKind)
	BackupScheduleKind             = reflect.TypeOf(BackupSchedule{}).Name()
	BackupScheduleGroupVersionKind = SchemeGroupVersion.WithKind(BackupScheduleKind)

	ProviderConfigKind                             = reflect.TypeOf(ProviderConfig{}).Name()
	ProviderConfigGroupVersionKind                 = SchemeGroupVersion.WithKind(ProviderConfigKind)
	ClusterProviderConfigKind                      = reflect.TypeOf(ClusterProviderConfig{}).Name()
	ClusterProviderConfigGroupVersionKind          = SchemeGroupVersion.WithKind(ClusterProviderConfigKind)
	ProviderConfigUsageKind                        = reflect.TypeOf(ProviderConfigUsage{}).Name()
	ProviderConfigUsageGroupVersionKind            = SchemeGroupVersion.WithKind(ProviderConfigUsageKind)
	ProviderConfigUsageListKind                    = reflect.TypeOf(ProviderConfigUsageList{}).Name()
	ProviderConfigUsageListGroupVersionKind        = SchemeGroupVersion.WithKind(ProviderConfigUsageListKind)
	ClusterProviderConfigUsageKind                 = reflect.TypeOf(ClusterProviderConfigUsage{}).Name()
	ClusterProviderConfigUsageGroupVersionKind     = SchemeGroupVersion.WithKind(ClusterProviderConfigUsageKind)
	ClusterProviderConfigUsageListKind             = reflect.TypeOf(ClusterProviderConfigUsageList{}).Name()
	ClusterProviderConfigUsageListGroupVersionKind = SchemeGroupVersion.WithKind(ClusterProviderConfigUsageListKind)
)

func init() {
	SchemeBuilder.Register(
		&Backup{}, &BackupList{},
		&Restore{}, &RestoreList{},
		&BackupSchedule{}, &BackupScheduleList{},
		&ProviderConfig{}, &ProviderConfigList{},
		&ClusterProviderConfig{}, &ClusterProviderConfigList{},
		&ProviderConfigUsage{}, &ProviderConfigUsageList{},
		&ClusterProviderConfigUsage{}, &ClusterProviderConfigUsageList{},
	)
}
