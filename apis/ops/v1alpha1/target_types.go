package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// A LocalReference names an object in the referencing object's namespace.
type LocalReference struct {
	// Name of the referenced object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// QdrantTarget selects the Qdrant cluster a Backup reads from or a Restore
// writes to: a QdrantCluster managed by qdrantops, or an explicit connection to
// a Qdrant that is not.
// +kubebuilder:validation:XValidation:rule="has(self.clusterRef) != has(self.connection)",message="exactly one of clusterRef or connection must be set"
type QdrantTarget struct {
	// ClusterRef names a QdrantCluster in the same namespace. Its connection
	// Secret gives the endpoint, the per-pod endpoints and the API key.
	// +optional
	ClusterRef *LocalReference `json:"clusterRef,omitempty"`

	// Connection addresses a Qdrant cluster that is not managed by qdrantops.
	// +optional
	Connection *QdrantConnection `json:"connection,omitempty"`
}

// QdrantConnection is how to reach a Qdrant cluster directly.
type QdrantConnection struct {
	// URL of Qdrant's REST API, used to discover the cluster's peers.
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/.*)?$`
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`

	// PeerURLs are the REST URLs of the individual nodes. Backups address every
	// node directly, never through a load-balanced Service; when empty they are
	// derived from the peers' p2p URIs with the REST port of URL.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^https?://[^\s/]+(/.*)?$`
	PeerURLs []string `json:"peerURLs,omitempty"`

	// APIKeySecretRef selects the key of a Secret in the same namespace that
	// holds Qdrant's API key.
	// +optional
	APIKeySecretRef *xpv2.LocalSecretKeySelector `json:"apiKeySecretRef,omitempty"`

	// CASecretRef selects the key of a Secret in the same namespace that holds
	// the PEM bundle of certificate authorities trusted for HTTPS.
	// +optional
	CASecretRef *xpv2.LocalSecretKeySelector `json:"caSecretRef,omitempty"`
}

// Storage is where backups live.
type Storage struct {
	// S3 is an S3-compatible object store.
	S3 S3Location `json:"s3"`
}

// S3Location is a bucket and key prefix in an S3-compatible object store. Fields
// left empty take the defaults of the ProviderConfig.
type S3Location struct {
	// Bucket name, following S3's naming rules.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Prefix of every object key, for example "prod/". It never starts with a
	// slash.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[^/].*$`
	Prefix string `json:"prefix,omitempty"`

	S3Endpoint `json:",inline"`
}

// S3Endpoint is how to reach and authenticate to an S3-compatible object store.
type S3Endpoint struct {
	// Region of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// Endpoint URL of an S3-compatible server; empty means AWS S3.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/.*)?$`
	Endpoint string `json:"endpoint,omitempty"`

	// UsePathStyle addresses buckets as endpoint/bucket rather than as
	// bucket.endpoint, as most self-hosted S3 servers need.
	// +optional
	UsePathStyle *bool `json:"usePathStyle,omitempty"`

	// CredentialsSecretRef names a Secret in the same namespace holding S3
	// access keys. It overrides the credentials of the ProviderConfig.
	// +optional
	CredentialsSecretRef *S3CredentialsSecretRef `json:"credentialsSecretRef,omitempty"`
}

// S3CredentialsSecretRef names a Secret holding an S3 access key pair.
type S3CredentialsSecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// AccessKeyIDKey is the Secret's key holding the access key id.
	// +optional
	// +kubebuilder:default=AWS_ACCESS_KEY_ID
	AccessKeyIDKey string `json:"accessKeyIDKey,omitempty"`

	// SecretAccessKeyKey is the Secret's key holding the secret access key.
	// +optional
	// +kubebuilder:default=AWS_SECRET_ACCESS_KEY
	SecretAccessKeyKey string `json:"secretAccessKeyKey,omitempty"`

	// SessionTokenKey is the Secret's key holding a session token, if any.
	// +optional
	SessionTokenKey string `json:"sessionTokenKey,omitempty"`
}

// A CollectionName is the name of a Qdrant collection.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:Pattern=`^[^/\x00]+$`
type CollectionName string

// Progress counts the work of a transfer.
type Progress struct {
	// ShardsDone is the number of shards transferred and verified.
	ShardsDone int32 `json:"shardsDone"`
	// ShardsTotal is the number of shards to transfer.
	ShardsTotal int32 `json:"shardsTotal"`
	// BytesDone is the number of snapshot bytes transferred.
	BytesDone int64 `json:"bytesDone"`
	// BytesTotal is the number of snapshot bytes to transfer, when known.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`
}

// Verification is the outcome of checking a transfer's result.
type Verification struct {
	// Verified is true when every check passed.
	Verified bool `json:"verified"`
	// Time of the check.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// Message says what was checked, or what did not match.
	// +optional
	Message string `json:"message,omitempty"`
}
