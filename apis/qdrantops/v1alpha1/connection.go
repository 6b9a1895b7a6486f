package v1alpha1

// The connection Secret of a QdrantCluster, written by the composition
// function in the cluster's namespace and read by applications and by
// provider-qdrantops for clusterRef.
const (
	// ConnectionSecretSuffix names the Secret: <cluster>-connection.
	ConnectionSecretSuffix = "-connection"
	// ConnectionKeyEndpoint is the REST URL of the cluster's Service.
	ConnectionKeyEndpoint = "endpoint"
	// ConnectionKeyPeerURLs lists each pod's REST URL, one per line, through
	// the headless Service.
	ConnectionKeyPeerURLs = "peerURLs"
	// ConnectionKeyAPIKey holds the API key when qdrantops generated it.
	ConnectionKeyAPIKey = "apiKey"
	// ConnectionKeyAPIKeySecretName and ConnectionKeyAPIKeySecretKey point at
	// a user's own API key Secret, which is referenced, never copied.
	ConnectionKeyAPIKeySecretName = "apiKeySecretName"
	ConnectionKeyAPIKeySecretKey  = "apiKeySecretKey"
)

// ConnectionSecretName is the name of a cluster's connection Secret.
func ConnectionSecretName(cluster string) string { return cluster + ConnectionSecretSuffix }
