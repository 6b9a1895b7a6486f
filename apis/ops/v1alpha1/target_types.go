package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// A LocalReference names an object in the referencing object's namespace.
type LocalReference struct {
	// Name of the referenced object, a DNS-1123 subdomain as every object name
	// is. The pattern also keeps ".", ".." and "/" out of the object keys a
	// name may become a segment of.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// QdrantTarget selects the Qdrant cluster a Backup reads from or a Restore
// writes to: a QdrantCluster managed by qdrantops, or an explicit connection to
// a Qdrant that is not.
// +kubebuilder:validation:XValidation:rule="has(self.clusterRef) != has(self.connection)",message="exactly one of clusterRef or connection must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.clusterRef) || size(self.clusterRef.name) <= 63",message="clusterRef.name must be at most 63 characters: a QdrantCluster's name is a DNS label and a segment of every object key"
type QdrantTarget struct {
	// ClusterRef names a QdrantCluster in the same namespace. Its connection
	// Secret gives the endpoint, the per-pod endpoints and the API key.
	// +optional
	ClusterRef *LocalReference `json:"clusterRef,omitempty"`

	// Connection addresses a Qdrant cluster that is not managed by qdrantops.
	// +optional
	Connection *QdrantConnection `json:"connection,omitempty"`
}

// QdrantConnection is how to reach a Qdrant cluster directly. The Secret
// selectors are crossplane-runtime's types, whose fields carry no pattern; the
// rules here hold their names to what a Secret's name and key can be.
// +kubebuilder:validation:XValidation:rule=`!has(self.apiKeySecretRef) || (size(self.apiKeySecretRef.name) <= 253 && self.apiKeySecretRef.name.matches(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))`,message="apiKeySecretRef.name must be a Secret's name (a DNS-1123 subdomain)"
// +kubebuilder:validation:XValidation:rule=`!has(self.apiKeySecretRef) || (size(self.apiKeySecretRef.key) <= 253 && self.apiKeySecretRef.key.matches(r'^[-._a-zA-Z0-9]+$'))`,message="apiKeySecretRef.key must be a Secret's key (letters, digits, '-', '_' and '.')"
// +kubebuilder:validation:XValidation:rule=`!has(self.caSecretRef) || (size(self.caSecretRef.name) <= 253 && self.caSecretRef.name.matches(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))`,message="caSecretRef.name must be a Secret's name (a DNS-1123 subdomain)"
// +kubebuilder:validation:XValidation:rule=`!has(self.caSecretRef) || (size(self.caSecretRef.key) <= 253 && self.caSecretRef.key.matches(r'^[-._a-zA-Z0-9]+$'))`,message="caSecretRef.key must be a Secret's key (letters, digits, '-', '_' and '.')"
type QdrantConnection struct {
	// URL of Qdrant's REST API, used to discover the cluster's peers. Its host
	// names the cluster in object keys, status and metrics, so it is a DNS name
	// or an IP address and the URL carries no userinfo.
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/.*)?$`
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="url must not contain '@': userinfo (user:password@) would be logged and become part of object keys; give credentials through a Secret"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^https?://([A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?(/.*)?$')`,message="url must be http(s)://host[:port][/path] with host a DNS name or an IP address (not empty, '.' or '..')"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || size(url(self).getHostname()) <= 253",message="the host of url must be at most 253 characters"
	URL string `json:"url"`

	// PeerURLs are the REST URLs of the individual nodes. Backups address every
	// node directly, never through a load-balanced Service; when empty they are
	// derived from the peers' p2p URIs with the REST port of URL.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^https?://[^\s/]+(/.*)?$`
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:items:XValidation:rule="!self.contains('@')",message="a peer URL must not contain '@': userinfo (user:password@) would be logged and become part of object keys; give credentials through a Secret"
	// +kubebuilder:validation:items:XValidation:rule=`self.matches(r'^https?://([A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?(/.*)?$')`,message="a peer URL must be http(s)://host[:port][/path] with host a DNS name or an IP address (not empty, '.' or '..')"
	// +kubebuilder:validation:items:XValidation:rule="!isURL(self) || size(url(self).getHostname()) <= 253",message="the host of a peer URL must be at most 253 characters"
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
	// Bucket name, following S3's naming rules: 3 to 63 lowercase letters,
	// digits, dots and hyphens, beginning and ending with a letter or digit,
	// not an IP address, without adjacent dots or a dot next to a hyphen, and
	// without the prefixes and suffixes S3 reserves.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="bucket name must not contain two adjacent dots"
	// +kubebuilder:validation:XValidation:rule="!self.contains('.-') && !self.contains('-.')",message="bucket name must not have a dot next to a hyphen"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$')`,message="bucket name must not be formatted as an IP address"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('xn--') && !self.startsWith('sthree-') && !self.startsWith('amzn-s3-demo-')",message="bucket name must not start with a prefix S3 reserves (xn--, sthree-, amzn-s3-demo-)"
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('-s3alias') && !self.endsWith('--ol-s3') && !self.endsWith('.mrap') && !self.endsWith('--x-s3') && !self.endsWith('--table-s3')",message="bucket name must not end with a suffix S3 reserves (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"
	Bucket string `json:"bucket"`

	// Prefix of every object key, for example "prod/": at most 256 bytes,
	// never starting with a slash, without empty, "." or ".." segments or
	// control characters.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[^/].*$`
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 256",message="prefix must be at most 256 bytes (UTF-8) so that every object key fits in S3's 1024"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'(^|/)\.\.?(/|$)')`,message="prefix must not have '.' or '..' segments"
	// +kubebuilder:validation:XValidation:rule="!self.contains('//')",message="prefix must not have empty segments ('//')"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'\p{Cc}')`,message="prefix must not contain control characters"
	Prefix string `json:"prefix,omitempty"`

	S3Endpoint `json:",inline"`
}

// S3Endpoint is how to reach and authenticate to an S3-compatible object store.
type S3Endpoint struct {
	// Region of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// Endpoint URL of an S3-compatible server; empty means AWS S3. Its host
	// is a DNS name or an IP address and it carries no userinfo.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/.*)?$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="endpoint must not contain '@': userinfo (user:password@) would be logged; give credentials through credentialsSecretRef"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^https?://([A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?(/.*)?$')`,message="endpoint must be http(s)://host[:port][/path] with host a DNS name or an IP address (not empty, '.' or '..')"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || size(url(self).getHostname()) <= 253",message="the host of endpoint must be at most 253 characters"
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
	// Name of the Secret, a DNS-1123 subdomain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// AccessKeyIDKey is the Secret's key holding the access key id.
	// +optional
	// +kubebuilder:default=AWS_ACCESS_KEY_ID
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	AccessKeyIDKey string `json:"accessKeyIDKey,omitempty"`

	// SecretAccessKeyKey is the Secret's key holding the secret access key.
	// +optional
	// +kubebuilder:default=AWS_SECRET_ACCESS_KEY
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	SecretAccessKeyKey string `json:"secretAccessKeyKey,omitempty"`

	// SessionTokenKey is the Secret's key holding a session token, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	SessionTokenKey string `json:"sessionTokenKey,omitempty"`
}

// A CollectionName is the name of a Qdrant collection: 1 to 255 characters, as
// Qdrant allows. It becomes a segment of object keys, so it is never "." or
// "..", and never holds a slash or a control character (NUL included).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="collection name must not be '.' or '..'"
// +kubebuilder:validation:XValidation:rule=`!self.matches(r'[/\p{Cc}]')`,message="collection name must not contain '/' or control characters"
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
