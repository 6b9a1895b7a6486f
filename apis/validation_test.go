package apis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const ns = "validation"

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	if u.GetNamespace() == "" && u.GetKind() != "ClusterProviderConfig" {
		u.SetNamespace(ns)
	}
	return u
}

func ensureNamespace(t *testing.T) {
	t.Helper()
	n := obj(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}")
	n.SetNamespace("")
	if err := env.Client.Create(context.Background(), n); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

const backupOK = `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: %s}
spec:
  forProvider:
    clusterRef: {name: search}
    storage: {s3: {bucket: qdrant-backups}}
`

func TestCreateIsRejected(t *testing.T) {
	ensureNamespace(t)
	cases := map[string]struct {
		reason string
		doc    string
		want   string
	}{
		"BackupProviderConfigRefTooLong": {
			reason: "crossplane-runtime labels the ProviderConfigUsage with the ProviderConfig's name: a 64-character name would leave the Backup Synced=False for ever.",
			doc:    strings.Replace(backup("pclong", onCluster("")), "spec:\n", "spec:\n  providerConfigRef: {kind: ProviderConfig, name: "+label(64)+"}\n", 1),
			want:   "providerConfigRef.name must be at most 63 characters",
		},
		"ScheduleProviderConfigRefTooLong": {
			reason: "The schedule's providerConfigRef becomes its Backups': held to the same 63.",
			doc:    strings.Replace(schedule("pclong", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), "spec:\n", "spec:\n  providerConfigRef: {kind: ProviderConfig, name: "+label(64)+"}\n", 1),
			want:   "providerConfigRef.name must be at most 63 characters",
		},
		"ScheduleKeepTooMany": {
			reason: "Keep counts are bounded: retention's work and memory would grow with them.",
			doc:    strings.Replace(schedule("keepmany", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), "    template:\n", "    retentionPolicy: {keepDaily: 10001}\n    template:\n", 1),
			want:   "should be less than or equal to 10000",
		},
		"ScheduleRetentionDaysTooMany": {
			reason: "retentionDays is held to a hundred years, as a Backup's.",
			doc:    strings.Replace(schedule("daysmany", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), "    template:\n", "    retentionPolicy: {retentionDays: 36501}\n    template:\n", 1),
			want:   "should be less than or equal to 36500",
		},
		"ScheduleDeadlineTooLong": {
			reason: "A starting deadline past a year is refused (in nanoseconds it would overflow).",
			doc:    strings.Replace(schedule("deadline", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), "    template:\n", "    startingDeadlineSeconds: 9223372037\n    template:\n", 1),
			want:   "should be less than or equal to 31622400",
		},
		// Item 5: names from specs never become '.', '..' or '/' key segments.
		"BackupClusterRefDotDot": {
			reason: "A tenant of one namespace must not reach another's backups: clusterRef '..' would make the key root <namespace>/../<backup>/.",
			doc:    backup("b", "    clusterRef: {name: \"..\"}\n    storage: {s3: {bucket: qdrant-backups}}\n"),
			want:   "spec.forProvider.clusterRef.name in body should match",
		},
		"BackupClusterRefSlash": {
			reason: "A reference name is an object name, never a key path.",
			doc:    backup("slash", "    clusterRef: {name: \"a/b\"}\n    storage: {s3: {bucket: qdrant-backups}}\n"),
			want:   "spec.forProvider.clusterRef.name in body should match",
		},
		"BackupClusterRefTooLong": {
			reason: "A QdrantCluster's name is a DNS label of at most 63 characters; longer ones would break the key budget.",
			doc:    backup("longcluster", "    clusterRef: {name: "+label(64)+"}\n    storage: {s3: {bucket: qdrant-backups}}\n"),
			want:   "clusterRef.name must be at most 63 characters",
		},
		"BackupConnectionHostDotDot": {
			reason: "The connection's host names the cluster in keys: '..' would climb out of the namespace.",
			doc:    backup("hostdotdot", withConnection("http://../", "")),
			want:   "url must be http(s)://host[:port][/path]",
		},
		"BackupConnectionHostDot": {
			reason: "The connection's host names the cluster in keys: '.' would vanish from the path.",
			doc:    backup("hostdot", withConnection("http://.:6333", "")),
			want:   "url must be http(s)://host[:port][/path]",
		},
		"BackupConnectionEmptyHost": {
			reason: "An empty host would leave an empty key segment.",
			doc:    backup("emptyhost", withConnection("http://:6333/", "")),
			want:   "url must be http(s)://host[:port][/path]",
		},
		"BackupConnectionUserinfo": {
			reason: "Userinfo would become the cluster's name in keys, status, events and metric labels, leaking the password.",
			doc:    backup("userinfo", withConnection("http://u:pw@host:6333", "")),
			want:   "url must not contain '@'",
		},
		"BackupConnectionHostTooLong": {
			reason: "A DNS name has at most 253 characters; the key budget counts on it.",
			doc:    backup("longhost", withConnection("http://"+host(254)+":6333", "")),
			want:   "the host of url must be at most 253 characters",
		},
		"BackupPeerURLUserinfo": {
			reason: "Peer URLs leak userinfo as the connection URL would.",
			doc:    backup("peeruserinfo", withConnection("http://qdrant:6333", "      peerURLs: [\"http://u:pw@qdrant-0:6333\"]\n")),
			want:   "a peer URL must not contain '@'",
		},
		"BackupPeerURLHostDotDot": {
			reason: "Peer URLs are held to the connection URL's host rules.",
			doc:    backup("peerdotdot", withConnection("http://qdrant:6333", "      peerURLs: [\"http://..:6333\"]\n")),
			want:   "a peer URL must be http(s)://host[:port][/path]",
		},
		"BackupPeerURLHostTooLong": {
			reason: "A peer's host is a DNS name of at most 253 characters.",
			doc:    backup("peerlonghost", withConnection("http://qdrant:6333", "      peerURLs: [\"http://"+host(254)+":6333\"]\n")),
			want:   "the host of a peer URL must be at most 253 characters",
		},
		"BackupAPIKeySecretNameDotDot": {
			reason: "crossplane-runtime's Secret selector has no pattern; the rule on the connection gives it one.",
			doc:    backup("apikeyname", withConnection("http://qdrant:6333", "      apiKeySecretRef: {name: \"..\", key: api-key}\n")),
			want:   "apiKeySecretRef.name must be a Secret's name",
		},
		"BackupAPIKeySecretBadKey": {
			reason: "A Secret's keys are letters, digits, '-', '_' and '.'.",
			doc:    backup("apikeykey", withConnection("http://qdrant:6333", "      apiKeySecretRef: {name: qdrant, key: \"a/b\"}\n")),
			want:   "apiKeySecretRef.key must be a Secret's key",
		},
		"BackupCASecretNameSlash": {
			reason: "The CA Secret selector gets the same name rule as the API key's.",
			doc:    backup("caname", withConnection("https://qdrant:6333", "      caSecretRef: {name: \"a/b\", key: ca.crt}\n")),
			want:   "caSecretRef.name must be a Secret's name",
		},
		"BackupCASecretBadKey": {
			reason: "The CA Secret selector gets the same key rule as the API key's.",
			doc:    backup("cakey", withConnection("https://qdrant:6333", "      caSecretRef: {name: qdrant-ca, key: \"ca crt\"}\n")),
			want:   "caSecretRef.key must be a Secret's key",
		},
		"BackupCredentialsSecretNameDotDot": {
			reason: "Secret reference names are DNS-1123 subdomains.",
			doc:    backup("credname", "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, credentialsSecretRef: {name: \"..\"}}}\n"),
			want:   "spec.forProvider.storage.s3.credentialsSecretRef.name in body should match",
		},
		"BackupCredentialsSecretBadKey": {
			reason: "The keys of the S3 credentials Secret are Secret keys.",
			doc:    backup("credkey", "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, credentialsSecretRef: {name: s3, accessKeyIDKey: \"a b\"}}}\n"),
			want:   "spec.forProvider.storage.s3.credentialsSecretRef.accessKeyIDKey in body should match",
		},
		"BackupS3EndpointUserinfo": {
			reason: "An S3 endpoint with userinfo would log the keys it carries.",
			doc:    backup("s3userinfo", "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, endpoint: \"http://ak:sk@s3.example:9000\"}}\n"),
			want:   "endpoint must not contain '@'",
		},
		"BackupS3EndpointHostDotDot": {
			reason: "An S3 endpoint's host is a DNS name or an IP address.",
			doc:    backup("s3dotdot", "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, endpoint: \"http://..:9000\"}}\n"),
			want:   "endpoint must be http(s)://host[:port][/path]",
		},
		"BackupS3EndpointHostTooLong": {
			reason: "An S3 endpoint's host is a DNS name of at most 253 characters.",
			doc:    backup("s3longhost", "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, endpoint: \"https://"+host(254)+"\"}}\n"),
			want:   "the host of endpoint must be at most 253 characters",
		},
		"BackupCollectionDotDot": {
			reason: "A collection name is a key segment: '..' would climb out of the backup's root.",
			doc:    backup("colldotdot", withCollections("..")),
			want:   "collection name must not be '.' or '..'",
		},
		"BackupCollectionDot": {
			reason: "A collection name is a key segment: '.' would vanish from the path.",
			doc:    backup("colldot", withCollections(".")),
			want:   "collection name must not be '.' or '..'",
		},
		"BackupCollectionSlash": {
			reason: "Qdrant refuses '/' in collection names; a key would get an extra segment.",
			doc:    backup("collslash", withCollections("a/b")),
			want:   "collection name must not contain '/' or control characters",
		},
		"BackupCollectionNUL": {
			reason: "Qdrant refuses NUL in collection names.",
			doc:    backup("collnul", withCollections(`a\0b`)),
			want:   "collection name must not contain '/' or control characters",
		},
		"BackupCollectionControl": {
			reason: "Control characters in a key segment break every tool that lists the keys.",
			doc:    backup("collctrl", withCollections(`a\x1bb`)),
			want:   "collection name must not contain '/' or control characters",
		},
		"BackupPrefixDotDot": {
			reason: "A '..' segment in the prefix is a traversal for any tool that maps keys to paths.",
			doc:    backup("prefixdotdot", withPrefix("prod/../other/")),
			want:   "prefix must not have '.' or '..' segments",
		},
		"BackupPrefixDot": {
			reason: "A '.' segment in the prefix is the same path as without it for such tools.",
			doc:    backup("prefixdot", withPrefix("./prod/")),
			want:   "prefix must not have '.' or '..' segments",
		},
		"BackupPrefixEmptySegment": {
			reason: "An empty segment is a different key from the one a user means.",
			doc:    backup("prefixempty", withPrefix("prod//a/")),
			want:   "prefix must not have empty segments ('//')",
		},
		"BackupPrefixControl": {
			reason: "Control characters do not belong in object keys.",
			doc:    backup("prefixctrl", withPrefix(`prod\tx/`)),
			want:   "prefix must not contain control characters",
		},
		// Item 18: object keys fit in S3's 1,024 bytes.
		"BackupNameTooLong": {
			reason: "A Backup's name is a key segment; the key budget allows 63 characters.",
			doc:    backup(label(64), onCluster("")),
			want:   "a Backup's name must be at most 63 characters",
		},
		"BackupPrefixTooManyBytes": {
			reason: "The prefix is counted in bytes: 100 three-byte characters are 300 bytes although MaxLength counts 100.",
			doc:    backup("prefixbytes", withPrefix(strings.Repeat("€", 100)+"/")),
			want:   "prefix must be at most 256 bytes",
		},
		"BackupCollectionTooManyBytes": {
			reason: "Collection names are counted in bytes: 51 four-byte characters are 204 bytes, within Qdrant's 255 characters but over the key budget.",
			doc:    backup("collbytes", withCollections(strings.Repeat("𝄞", 51))),
			want:   "collection names must be at most 200 bytes",
		},
		// Item 18: S3's bucket naming rules.
		"BackupBucketIPAddress": {
			reason: "S3 refuses bucket names formatted as IP addresses.",
			doc:    backup("bucketip", withBucket("192.168.0.1")),
			want:   "bucket name must not be formatted as an IP address",
		},
		"BackupBucketAdjacentDots": {
			reason: "S3 refuses adjacent dots in bucket names.",
			doc:    backup("bucketdots", withBucket("a..b")),
			want:   "bucket name must not contain two adjacent dots",
		},
		"BackupBucketDotHyphen": {
			reason: "S3 refuses a dot next to a hyphen.",
			doc:    backup("bucketdothyphen", withBucket("abc.-def")),
			want:   "bucket name must not have a dot next to a hyphen",
		},
		"BackupBucketHyphenDot": {
			reason: "S3 refuses a hyphen next to a dot.",
			doc:    backup("buckethyphendot", withBucket("abc-.def")),
			want:   "bucket name must not have a dot next to a hyphen",
		},
		"BackupBucketXNPrefix": {
			reason: "S3 reserves the xn-- prefix.",
			doc:    backup("bucketxn", withBucket("xn--backups")),
			want:   "bucket name must not start with a prefix S3 reserves",
		},
		"BackupBucketSthreePrefix": {
			reason: "S3 reserves the sthree- prefix.",
			doc:    backup("bucketsthree", withBucket("sthree-backups")),
			want:   "bucket name must not start with a prefix S3 reserves",
		},
		"BackupBucketS3AliasSuffix": {
			reason: "S3 reserves the -s3alias suffix for access point aliases.",
			doc:    backup("bucketalias", withBucket("backups-s3alias")),
			want:   "bucket name must not end with a suffix S3 reserves",
		},
		"BackupBucketOLSuffix": {
			reason: "S3 reserves the --ol-s3 suffix for Object Lambda aliases.",
			doc:    backup("bucketol", withBucket("backups--ol-s3")),
			want:   "bucket name must not end with a suffix S3 reserves",
		},
		"BackupRetentionOverflow": {
			reason: "retentionDays beyond a hundred years overflowed a Duration and deleted the backup at once.",
			doc:    backup("retention", onCluster("    retentionDays: 36501\n")),
			want:   "spec.forProvider.retentionDays in body should be less than or equal to 36500",
		},
		// The same rules on Restore.
		"RestoreBackupRefDotDot": {
			reason: "A Restore's references are object names.",
			doc:    restore("backupref", "    backupRef: {name: \"..\"}\n    targetClusterRef: {name: search}\n"),
			want:   "spec.forProvider.backupRef.name in body should match",
		},
		"RestoreTargetClusterRefTooLong": {
			reason: "A QdrantCluster's name is a DNS label.",
			doc:    restore("targetlong", "    backupRef: {name: b}\n    targetClusterRef: {name: "+label(64)+"}\n"),
			want:   "targetClusterRef.name must be at most 63 characters",
		},
		"RestoreTargetConnectionUserinfo": {
			reason: "A Restore's connection URL leaks userinfo as a Backup's would.",
			doc:    restore("targetuserinfo", "    backupRef: {name: b}\n    targetConnection: {url: \"http://u:pw@qdrant:6333\"}\n"),
			want:   "url must not contain '@'",
		},
		"RestoreTargetConnectionHostDotDot": {
			reason: "A Restore's connection host follows the same rules as a Backup's.",
			doc:    restore("targetdotdot", "    backupRef: {name: b}\n    targetConnection: {url: \"http://../\"}\n"),
			want:   "url must be http(s)://host[:port][/path]",
		},
		"RestoreSourceBucketIPAddress": {
			reason: "A raw S3 source's bucket follows S3's naming rules.",
			doc:    restore("srcbucket", "    source: {s3: {bucket: \"10.0.0.1\", path: prod/a/b}}\n    targetClusterRef: {name: search}\n"),
			want:   "bucket name must not be formatted as an IP address",
		},
		"RestoreSourcePathDotDot": {
			reason: "A raw S3 source's path has no '..' segments.",
			doc:    restore("srcpath", "    source: {s3: {bucket: qdrant-backups, path: \"prod/../b\"}}\n    targetClusterRef: {name: search}\n"),
			want:   "path must not have '.' or '..' segments",
		},
		"RestoreSourcePathTooManyBytes": {
			reason: "An object key has at most 1024 bytes; 600 two-byte characters are 1200.",
			doc:    restore("srcpathbytes", "    source: {s3: {bucket: qdrant-backups, path: \""+strings.Repeat("é", 600)+"\"}}\n    targetClusterRef: {name: search}\n"),
			want:   "path must be at most 1024 bytes",
		},
		"RestoreSourcePathEmptySegment": {
			reason: "A raw S3 source's path has no empty segments.",
			doc:    restore("srcpathempty", "    source: {s3: {bucket: qdrant-backups, path: \"prod//b\"}}\n    targetClusterRef: {name: search}\n"),
			want:   "path must not have empty segments ('//')",
		},
		"RestoreSourcePathControl": {
			reason: "A raw S3 source's path has no control characters.",
			doc:    restore("srcpathctrl", "    source: {s3: {bucket: qdrant-backups, path: \"prod/\\tb\"}}\n    targetClusterRef: {name: search}\n"),
			want:   "path must not contain control characters",
		},
		"RestoreSourceEndpointUserinfo": {
			reason: "A raw S3 source's endpoint carries no userinfo.",
			doc:    restore("srcendpoint", "    source: {s3: {bucket: qdrant-backups, path: prod/a/b, endpoint: \"https://k:s@s3.example\"}}\n    targetClusterRef: {name: search}\n"),
			want:   "endpoint must not contain '@'",
		},
		"RestoreMappingToDotDot": {
			reason: "Target collection names follow Qdrant's rules too.",
			doc:    restore("mapping", "    backupRef: {name: b}\n    targetClusterRef: {name: search}\n    collectionMappings: [{from: a, to: \"..\"}]\n"),
			want:   "collection name must not be '.' or '..'",
		},
		// The same rules on BackupSchedule's template.
		"ScheduleNameTooLong": {
			reason: "The Backups a schedule creates carry its name and a suffix, and are at most 63 characters.",
			doc:    schedule(label(53), "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"),
			want:   "a BackupSchedule's name must be at most 52 characters",
		},
		"ScheduleClusterRefDotDot": {
			reason: "A schedule's template is held to a Backup's rules.",
			doc:    schedule("clusterdotdot", "      clusterRef: {name: \"..\"}\n      storage: {s3: {bucket: qdrant-backups}}\n"),
			want:   "spec.forProvider.template.clusterRef.name in body should match",
		},
		"ScheduleBucketAdjacentDots": {
			reason: "A schedule's bucket follows S3's naming rules.",
			doc:    schedule("bucketdots", "      clusterRef: {name: search}\n      storage: {s3: {bucket: \"a..b\"}}\n"),
			want:   "bucket name must not contain two adjacent dots",
		},
		"SchedulePrefixDotDot": {
			reason: "A schedule's prefix has no '..' segments.",
			doc:    schedule("prefixdotdot", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups, prefix: \"../x/\"}}\n"),
			want:   "prefix must not have '.' or '..' segments",
		},
		"ScheduleCollectionTooManyBytes": {
			reason: "A schedule's collection names fit the key budget as a Backup's do.",
			doc:    schedule("collbytes", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n      collections: [\""+strings.Repeat("𝄞", 51)+"\"]\n"),
			want:   "collection names must be at most 200 bytes",
		},
		"ScheduleConnectionUserinfo": {
			reason: "A schedule's connection URL carries no userinfo.",
			doc:    schedule("userinfo", "      connection: {url: \"http://u:pw@qdrant:6333\"}\n      storage: {s3: {bucket: qdrant-backups}}\n"),
			want:   "url must not contain '@'",
		},
		"ProviderConfigSecretNameDotDot": {
			reason: "A ProviderConfig's Secret reference is a Secret's name.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: ProviderConfig
metadata: {name: secretdotdot}
spec:
  credentials: {source: Secret, secretRef: {name: ".."}}`,
			want: "spec.credentials.secretRef.name in body should match",
		},
		"RestoreBackupRefAndSource": {
			reason: "A Restore reads either a Backup or a raw S3 path, never both.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: both}
spec:
  forProvider:
    backupRef: {name: b}
    source: {s3: {bucket: qdrant-backups, path: a/b}}
    targetClusterRef: {name: search}`,
			want: "exactly one of backupRef or source must be set",
		},
		"RestoreNoSource": {
			reason: "A Restore needs something to restore.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: neither}
spec:
  forProvider:
    targetClusterRef: {name: search}`,
			want: "exactly one of backupRef or source must be set",
		},
		"RestoreNoTarget": {
			reason: "A Restore needs a target cluster.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: notarget}
spec:
  forProvider:
    backupRef: {name: b}`,
			want: "exactly one of targetClusterRef or targetConnection must be set",
		},
		"ScheduleFourFields": {
			reason: "A cron schedule has five fields; a descriptor starts with @.",
			doc:    strings.Replace(schedule("fourfields", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, `"0 2 * *"`, 1),
			want:   "schedule must be five cron fields",
		},
		"ScheduleUnknownDescriptor": {
			reason: "Only robfig/cron's descriptors are schedules.",
			doc:    strings.Replace(schedule("descriptor", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, `"@fortnightly"`, 1),
			want:   "schedule must be five cron fields",
		},
		"ScheduleTimeZonePrefix": {
			reason: "The time zone is set in timeZone, so that status and admission agree on it.",
			doc:    strings.Replace(schedule("tzprefix", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, `"TZ=Europe/Berlin 0 2 * * *"`, 1),
			want:   "set the schedule's time zone in timeZone",
		},
		"ScheduleTimeZoneLocal": {
			reason: "Local would make ticks depend on the provider's host.",
			doc:    strings.Replace(schedule("tzlocal", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, "\"@daily\"\n    timeZone: Local", 1),
			want:   "timeZone must name a zone",
		},
		"ScheduleTimeZonePath": {
			reason: "A time zone is an IANA name, never a path.",
			doc:    strings.Replace(schedule("tzpath", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, "\"@daily\"\n    timeZone: ../zone", 1),
			want:   "spec.forProvider.timeZone in body should match",
		},
		"ScheduleNegativeRetention": {
			reason: "Retention counts cannot be negative.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: BackupSchedule
metadata: {name: negative}
spec:
  forProvider:
    schedule: "0 2 * * *"
    retentionPolicy: {keepLast: -1}
    template:
      clusterRef: {name: search}
      storage: {s3: {bucket: qdrant-backups}}`,
			want: "spec.forProvider.retentionPolicy.keepLast: Invalid value: -1: spec.forProvider.retentionPolicy.keepLast in body should be greater than or equal to 0",
		},
		"ScheduleBadConcurrencyPolicy": {
			reason: "Concurrency policy is an enum.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: BackupSchedule
metadata: {name: concurrency}
spec:
  forProvider:
    schedule: "0 2 * * *"
    concurrencyPolicy: Replace
    template:
      clusterRef: {name: search}
      storage: {s3: {bucket: qdrant-backups}}`,
			want: `spec.forProvider.concurrencyPolicy: Unsupported value: "Replace"`,
		},
		"BackupEmptyBucket": {
			reason: "A backup needs a bucket.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: nobucket}
spec:
  forProvider:
    clusterRef: {name: search}
    storage: {s3: {bucket: ""}}`,
			want: "spec.forProvider.storage.s3.bucket in body should be at least 3 chars long",
		},
		"BackupInvalidBucketName": {
			reason: "Bucket names follow S3's rules.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: badbucket}
spec:
  forProvider:
    clusterRef: {name: search}
    storage: {s3: {bucket: My_Bucket}}`,
			want: "spec.forProvider.storage.s3.bucket in body should match",
		},
		"BackupClusterRefAndConnection": {
			reason: "A backup reads one cluster.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: twotargets}
spec:
  forProvider:
    clusterRef: {name: search}
    connection: {url: "http://qdrant:6333"}
    storage: {s3: {bucket: qdrant-backups}}`,
			want: "exactly one of clusterRef or connection must be set",
		},
		"BackupBadParallelism": {
			reason: "Parallelism is bounded.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: parallel}
spec:
  forProvider:
    clusterRef: {name: search}
    parallelism: 0
    storage: {s3: {bucket: qdrant-backups}}`,
			want: "spec.forProvider.parallelism in body should be greater than or equal to 1",
		},
		"BackupConnectionNotAURL": {
			reason: "Connections are http(s) URLs.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: noturl}
spec:
  forProvider:
    connection: {url: "qdrant:6333"}
    storage: {s3: {bucket: qdrant-backups}}`,
			want: "spec.forProvider.connection.url in body should match",
		},
		"ProviderConfigSecretWithoutRef": {
			reason: "Secret credentials need a Secret.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: ProviderConfig
metadata: {name: nosecret}
spec:
  credentials: {source: Secret}`,
			want: "secretRef is required when source is Secret",
		},
		"QdrantClusterReplicasWithoutClusterMode": {
			reason: "More than one node needs Qdrant's distributed mode.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: nocluster}
spec: {replicas: 3, version: "1.19.0"}`,
			want: "replicas > 1 needs cluster.enabled: true",
		},
		"QdrantClusterBadVersion": {
			reason: "Versions are image tags like 1.19.0.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: badversion}
spec: {version: latest}`,
			want: "spec.version in body should match",
		},
		"QdrantClusterExistingBucketWithoutName": {
			reason: "An existing bucket must be named.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: nobucketname}
spec:
  version: "1.19.0"
  backup: {schedule: "@daily", bucket: {create: false}}`,
			want: "name is required unless create is true",
		},
		"QdrantClusterNegativeRetention": {
			reason: "Retention counts cannot be negative in the XR either.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: negative}
spec:
  version: "1.19.0"
  backup: {schedule: "@daily", retention: {keepDaily: -3}, bucket: {create: true}}`,
			want: "spec.backup.retention.keepDaily in body should be greater than or equal to 0",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := env.Client.Create(context.Background(), obj(t, tc.doc))
			if err == nil {
				t.Fatalf("%s\nCreate(...): want error containing %q, got none", tc.reason, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nCreate(...): want error containing %q, got %q", tc.reason, tc.want, err.Error())
			}
		})
	}
}

func TestUpdateIsRejected(t *testing.T) {
	ensureNamespace(t)
	cases := map[string]struct {
		reason string
		doc    string // created first; a valid Backup when empty
		mutate func(u *unstructured.Unstructured)
		status bool
		want   string
	}{
		"BackupProviderConfigRefIsImmutable": {
			reason: "The ProviderConfig says where a backup's objects live; switching it under an immutable storage target would orphan them.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other", "spec", "providerConfigRef", "name")
			},
			want: "providerConfigRef is immutable",
		},
		"BackupProviderConfigRefCannotBeDropped": {
			reason: "Dropping a namespaced ProviderConfig reference defaults it to the ClusterProviderConfig, another store.",
			doc:    strings.Replace(backupOK, "spec:\n", "spec:\n  providerConfigRef: {kind: ProviderConfig, name: default}\n", 1),
			mutate: func(u *unstructured.Unstructured) {
				unstructured.RemoveNestedField(u.Object, "spec", "providerConfigRef")
			},
			want: "providerConfigRef is immutable",
		},
		"RestoreProviderConfigRefIsImmutable": {
			reason: "A running restore reads from the store its ProviderConfig names.",
			doc:    restore("%s", "    backupRef: {name: b}\n    targetClusterRef: {name: search}\n"),
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "ProviderConfig", "spec", "providerConfigRef", "kind")
			},
			want: "providerConfigRef is immutable",
		},
		"BackupStorageIsImmutable": {
			reason: "A backup's objects cannot move once it exists.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other-bucket", "spec", "forProvider", "storage", "s3", "bucket")
			},
			want: "storage is immutable",
		},
		"BackupClusterIsImmutable": {
			reason: "A backup's source cannot change once it exists.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other", "spec", "forProvider", "clusterRef", "name")
			},
			want: "clusterRef is immutable",
		},
		"BackupCollectionsAreImmutable": {
			reason: "Adding a collection selection changes what the backup holds.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedStringSlice(u.Object, []string{"a"}, "spec", "forProvider", "collections")
			},
			want: "collections is immutable",
		},
		"InvalidPhaseInStatus": {
			reason: "Status phases are an enum; nothing can write another value.",
			status: true,
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "Exploded", "status", "atProvider", "phase")
			},
			want: `status.atProvider.phase: Unsupported value: "Exploded"`,
		},
	}
	ctx := context.Background()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc := tc.doc
			if doc == "" {
				doc = backupOK
			}
			u := obj(t, strings.Replace(doc, "%s", strings.ToLower(name), 1))
			if err := env.Client.Create(ctx, u); err != nil {
				t.Fatalf("cannot create valid object: %v", err)
			}
			tc.mutate(u)
			var err error
			if tc.status {
				err = env.Client.Status().Update(ctx, u)
			} else {
				err = env.Client.Update(ctx, u)
			}
			if err == nil {
				t.Fatalf("%s\nUpdate(...): want error containing %q, got none", tc.reason, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nUpdate(...): want error containing %q, got %q", tc.reason, tc.want, err.Error())
			}
		})
	}
}

func TestUpdateIsAccepted(t *testing.T) {
	ensureNamespace(t)
	ctx := context.Background()
	// The transition rules must refuse only the changes they name: a Backup's
	// labels and retention change, and a Restore can be relabelled.
	cases := map[string]struct {
		reason string
		doc    string
		mutate func(u *unstructured.Unstructured)
	}{
		"BackupRetentionAndLabels": {
			reason: "Retention and labels are not part of what a backup holds or where.",
			doc:    backupOK,
			mutate: func(u *unstructured.Unstructured) {
				u.SetLabels(map[string]string{"tier": "gold"})
				_ = unstructured.SetNestedField(u.Object, int64(7), "spec", "forProvider", "retentionDays")
			},
		},
		"BackupSameProviderConfigRef": {
			reason: "Writing back the same providerConfigRef, as every apply does, is no change.",
			doc:    strings.Replace(backupOK, "spec:\n", "spec:\n  providerConfigRef: {kind: ProviderConfig, name: default}\n", 1),
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, map[string]any{"kind": "ProviderConfig", "name": "default"}, "spec", "providerConfigRef")
				u.SetAnnotations(map[string]string{"applied": "again"})
			},
		},
		"RestoreLabels": {
			reason: "Labels of a Restore may change.",
			doc:    restore("%s", "    backupRef: {name: b}\n    targetClusterRef: {name: search}\n"),
			mutate: func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"ticket": "42"}) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := obj(t, strings.Replace(tc.doc, "%s", "accepted-"+strings.ToLower(name), 1))
			if err := env.Client.Create(ctx, u); err != nil {
				t.Fatalf("cannot create valid object: %v", err)
			}
			tc.mutate(u)
			if err := env.Client.Update(ctx, u); err != nil {
				t.Errorf("%s\nUpdate(...): %v", tc.reason, err)
			}
		})
	}
}

func TestUnknownFieldsArePruned(t *testing.T) {
	ensureNamespace(t)
	ctx := context.Background()
	u := obj(t, strings.Replace(backupOK, "%s", "pruned", 1))
	_ = unstructured.SetNestedField(u.Object, "surprise", "spec", "forProvider", "notAField")
	_ = unstructured.SetNestedField(u.Object, "surprise", "spec", "forProvider", "storage", "s3", "notAField")
	// A non-strict client, as most GitOps tools are: the apiserver prunes.
	if err := env.Client.Create(ctx, u, &client.CreateOptions{Raw: nil}); err != nil {
		t.Fatal(err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(u.GroupVersionKind())
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatal(err)
	}
	fp, _, _ := unstructured.NestedMap(got.Object, "spec", "forProvider")
	want := map[string]any{
		"clusterRef":  map[string]any{"name": "search"},
		"parallelism": int64(4),
		"verify":      "Basic",
		"storage":     map[string]any{"s3": map[string]any{"bucket": "qdrant-backups"}},
	}
	if diff := cmp.Diff(want, fp); diff != "" {
		t.Errorf("stored forProvider: -want, +got:\n%s", diff)
	}
}

func TestCreateIsAccepted(t *testing.T) {
	ensureNamespace(t)
	// Every case sits at the edge of a rule of TestCreateIsRejected: the rules
	// refuse what breaks keys, and nothing a user legitimately writes.
	cases := map[string]struct {
		reason string
		doc    string
	}{
		"BackupAtEveryKeyLimit": {
			reason: "The longest parts the key budget allows: a 63-character name and cluster, a 256-byte prefix and a 200-byte collection name.",
			doc: backup(label(63), "    clusterRef: {name: "+label(63)+"}\n    storage: {s3: {bucket: qdrant-backups, prefix: \""+strings.Repeat("€", 85)+"/\"}}\n"+
				"    collections: [\""+strings.Repeat("𝄞", 50)+"\"]\n    retentionDays: 36500\n"),
		},
		"BackupLongestHost": {
			reason: "A DNS name of 253 characters is a valid host.",
			doc:    backup("longesthost", withConnection("http://"+host(253)+":6333/", "")),
		},
		"BackupConnectionByIP": {
			reason: "Connections by IPv4 and bracketed IPv6 address, with a path, are valid.",
			doc: backup("byip", withConnection("http://10.0.0.1:6333/qdrant",
				"      peerURLs: [\"http://[fd00::1]:6333\", \"https://qdrant-1.qdrant-headless.legacy.svc.cluster.local:6333\"]\n"+
					"      apiKeySecretRef: {name: qdrant.api, key: api.key}\n      caSecretRef: {name: qdrant-ca, key: ca_bundle-1.pem}\n")),
		},
		"BackupS3Endpoint": {
			reason: "A self-hosted S3 endpoint with a port and Secret credentials is valid.",
			doc: backup("s3endpoint", "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, endpoint: \"https://s3.eu-central-1.amazonaws.com\", "+
				"credentialsSecretRef: {name: s3.keys, accessKeyIDKey: ACCESS_KEY, secretAccessKeyKey: secret.key, sessionTokenKey: token-1}}}\n"),
		},
		"BackupDottedBucketAndPrefix": {
			reason: "Dots and hyphens apart from each other are fine in buckets; dots inside prefix segments are fine.",
			doc:    backup("dotted", "    clusterRef: {name: search}\n    storage: {s3: {bucket: backups.team-a.example-1, prefix: \"v1.2/..snapshots/.x/\"}}\n"),
		},
		"BackupUnicodeCollections": {
			reason: "Qdrant allows spaces, dots and any Unicode letter in collection names.",
			doc:    backup("unicode", withCollections("products v2", "...", ".hidden", "Ünïcödé-集合")),
		},
		"ScheduleLongestName": {
			reason: "A schedule name of 52 characters leaves room for its Backups' suffix.",
			doc:    schedule(label(52), "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"),
		},
		"ScheduleCronAndZone": {
			reason: "Five fields with ranges, steps, lists and names, in a zone whose name has three parts.",
			doc:    strings.Replace(schedule("cronzone", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, "\"*/15 2-4 1,15 * MON-FRI\"\n    timeZone: America/Argentina/Buenos_Aires", 1),
		},
		"ScheduleEveryInZone": {
			reason: "An @every descriptor, and a zone with a sign and a digit.",
			doc:    strings.Replace(schedule("everyzone", "      clusterRef: {name: search}\n      storage: {s3: {bucket: qdrant-backups}}\n"), `"@daily"`, "\"@every 1h30m\"\n    timeZone: Etc/GMT+2", 1),
		},
		"RestoreFromS3Path": {
			reason: "A raw S3 path naming the manifest itself, with dotted segments, is valid.",
			doc:    restore("s3path", "    source: {s3: {bucket: qdrant-backups, path: prod/team-a/qdrant.legacy.svc/b/manifest.json}}\n    targetConnection: {url: \"http://[::1]:6333\"}\n"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := env.Client.Create(context.Background(), obj(t, tc.doc)); err != nil {
				t.Errorf("%s\nCreate(...): %v", tc.reason, err)
			}
		})
	}
}

// backup returns a Backup named name whose forProvider is the given YAML
// (indented four spaces).
func backup(name, forProvider string) string {
	return "apiVersion: ops.qdrantops.io/v1alpha1\nkind: Backup\nmetadata: {name: " + name + "}\nspec:\n  forProvider:\n" + forProvider
}

// onCluster is the forProvider of a valid Backup of the QdrantCluster
// "search", with extra fields.
func onCluster(extra string) string {
	return "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups}}\n" + extra
}

// withBucket is the forProvider of a valid Backup of "search" into bucket.
func withBucket(bucket string) string {
	return "    clusterRef: {name: search}\n    storage: {s3: {bucket: \"" + bucket + "\"}}\n"
}

// withConnection is the forProvider of a valid Backup of an unmanaged Qdrant,
// with connection fields (indented six spaces) after url.
func withConnection(url, extra string) string {
	return "    connection:\n      url: \"" + url + "\"\n" + extra + "    storage: {s3: {bucket: qdrant-backups}}\n"
}

// withPrefix is the forProvider of a valid Backup of "search" under prefix.
func withPrefix(prefix string) string {
	return "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups, prefix: \"" + prefix + "\"}}\n"
}

// withCollections is the forProvider of a valid Backup of the given
// collections (YAML double-quoted strings) of "search".
func withCollections(names ...string) string {
	return "    clusterRef: {name: search}\n    storage: {s3: {bucket: qdrant-backups}}\n    collections: [\"" + strings.Join(names, "\", \"") + "\"]\n"
}

// restore returns a Restore of Backup "b" into "search" whose forProvider is
// replaced by the given YAML when not empty.
func restore(name, forProvider string) string {
	return "apiVersion: ops.qdrantops.io/v1alpha1\nkind: Restore\nmetadata: {name: " + name + "}\nspec:\n  forProvider:\n" + forProvider
}

// schedule returns a BackupSchedule whose template is the given YAML
// (indented six spaces).
func schedule(name, template string) string {
	return "apiVersion: ops.qdrantops.io/v1alpha1\nkind: BackupSchedule\nmetadata: {name: " + name + "}\nspec:\n  forProvider:\n    schedule: \"@daily\"\n    template:\n" + template
}

// label returns a DNS label of n characters.
func label(n int) string { return strings.Repeat("a", n) }

// host returns a DNS name of n characters made of labels of at most 63.
func host(n int) string {
	var b strings.Builder
	for n-b.Len() > 63 {
		b.WriteString(label(min(63, n-b.Len()-2)) + ".")
	}
	b.WriteString(label(n - b.Len()))
	return b.String()
}
