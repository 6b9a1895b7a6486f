package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
)

const xrBase = `{
  "apiVersion": "qdrantops.io/v1alpha1", "kind": "QdrantCluster",
  "metadata": {"name": "search", "namespace": "team-a", "uid": "5f0c1e2a-0000-4000-8000-000000000001"},
  "spec": {"replicas": 3, "version": "1.19.0", "cluster": {"enabled": true},
           "persistence": {"size": "10Gi", "storageClassName": "standard"},
           "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}%s}
}`

func xr(extra string) *fnv1.Resource {
	return &fnv1.Resource{Resource: resource.MustStructJSON(strings.Replace(xrBase, "%s", extra, 1))}
}

func obs(j string) *fnv1.Resource {
	return &fnv1.Resource{Resource: resource.MustStructJSON(j)}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no randomness") }

// result is what a test looks at in a response.
type result struct {
	resources map[string]map[string]any
	ready     map[string]fnv1.Ready
	status    map[string]any
	conds     map[string]string // type -> reason
	condition map[string]*fnv1.Condition
	warnings  []string
	fatal     string
}

func run(t *testing.T, random []byte, req *fnv1.RunFunctionRequest) result {
	t.Helper()
	f := &Function{log: logging.NewNopLogger(), random: bytes.NewReader(random)}
	if random == nil {
		f.random = errReader{}
	}
	rsp, err := f.RunFunction(context.Background(), req)
	if err != nil {
		t.Fatalf("RunFunction returned an error: %v", err)
	}
	r := result{resources: map[string]map[string]any{}, ready: map[string]fnv1.Ready{}, conds: map[string]string{}, condition: map[string]*fnv1.Condition{}}
	for _, res := range rsp.GetResults() {
		switch res.GetSeverity() {
		case fnv1.Severity_SEVERITY_FATAL:
			r.fatal = res.GetMessage()
		case fnv1.Severity_SEVERITY_WARNING:
			r.warnings = append(r.warnings, res.GetMessage())
		default:
		}
	}
	for n, d := range rsp.GetDesired().GetResources() {
		r.resources[n] = d.GetResource().AsMap()
		r.ready[n] = d.GetReady()
	}
	if st, ok := rsp.GetDesired().GetComposite().GetResource().AsMap()["status"].(map[string]any); ok {
		r.status = st
	}
	for _, c := range rsp.GetConditions() {
		r.conds[c.GetType()] = c.GetReason()
		r.condition[c.GetType()] = c
	}
	ns := "team-a"
	wantReq := &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{
		"statefulset": {ApiVersion: "apps/v1", Kind: "StatefulSet", Match: &fnv1.ResourceSelector_MatchName{MatchName: "search"}, Namespace: &ns},
	}}
	if diff := cmp.Diff(wantReq, rsp.GetRequirements(), protocmp.Transform()); diff != "" {
		t.Errorf("requirements: the function must require the chart's StatefulSet: -want, +got:\n%s", diff)
	}
	return r
}

func at(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func secretValue(t *testing.T, s map[string]any, key string) string {
	t.Helper()
	v, _ := at(s, "data", key).(string)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("data.%s is not base64: %v", key, err)
	}
	return string(b)
}

func TestFirstReconcile(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	r := run(t, key, &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr("")}})
	if r.fatal != "" {
		t.Fatal(r.fatal)
	}
	if diff := cmp.Diff([]string{"api-key", "connection", "release"}, keys(r.resources)); diff != "" {
		t.Errorf("composed resources: -want, +got:\n%s", diff)
	}
	wantValues := map[string]any{
		"fullnameOverride":    "search",
		"replicaCount":        float64(3),
		"image":               map[string]any{"tag": "v1.19.0"},
		"persistence":         map[string]any{"size": "10Gi", "storageClassName": "standard"},
		"resources":           map[string]any{"requests": map[string]any{"cpu": "500m", "memory": "2Gi"}},
		"config":              map[string]any{"cluster": map[string]any{"enabled": true}},
		"metrics":             map[string]any{"serviceMonitor": map[string]any{"enabled": false}},
		"podDisruptionBudget": map[string]any{"enabled": true, "maxUnavailable": float64(1)},
		"apiKey":              false,
		"env": []any{map[string]any{"name": "QDRANT__SERVICE__API_KEY", "valueFrom": map[string]any{
			"secretKeyRef": map[string]any{"name": "search-api-key", "key": "api-key"}}}},
	}
	rel := r.resources["release"]
	if diff := cmp.Diff(wantValues, at(rel, "spec", "forProvider", "values")); diff != "" {
		t.Errorf("Helm values: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"name": "qdrant", "repository": chartRepository, "version": chartVersion}, at(rel, "spec", "forProvider", "chart")); diff != "" {
		t.Errorf("chart: -want, +got:\n%s", diff)
	}
	if at(rel, "spec", "forProvider", "namespace") != "team-a" || at(rel, "metadata", "annotations", "crossplane.io/external-name") != "search" {
		t.Errorf("release: namespace %v, external name %v", at(rel, "spec", "forProvider", "namespace"), at(rel, "metadata", "annotations"))
	}
	if at(rel, "spec", "forProvider", "skipCreateNamespace") != true {
		// The namespace exists; provider-helm creating it needs a
		// cluster-wide right the tenant namespace's identity lacks.
		t.Errorf("release: skipCreateNamespace %v, want true", at(rel, "spec", "forProvider", "skipCreateNamespace"))
	}
	wantKey := strings.Repeat("ab", 32)
	if got := secretValue(t, r.resources["api-key"], "api-key"); got != wantKey {
		t.Errorf("generated key: want %q, got %q", wantKey, got)
	}
	conn := r.resources["connection"]
	if got := secretValue(t, conn, "apiKey"); got != wantKey {
		t.Errorf("connection Secret apiKey: want the generated key, got %q", got)
	}
	wantPeers := "http://search-0.search-headless.team-a.svc:6333\nhttp://search-1.search-headless.team-a.svc:6333\nhttp://search-2.search-headless.team-a.svc:6333"
	if got := secretValue(t, conn, "peerURLs"); got != wantPeers {
		t.Errorf("peerURLs: want %q, got %q", wantPeers, got)
	}
	if got := secretValue(t, conn, "endpoint"); got != "http://search.team-a.svc:6333" {
		t.Errorf("endpoint: got %q", got)
	}
	for n, rd := range r.ready {
		if rd != fnv1.Ready_READY_FALSE {
			t.Errorf("%s: nothing is observed yet, want not ready, got %v", n, rd)
		}
	}
	if diff := cmp.Diff(map[string]any{"phase": "Pending", "replicas": float64(3), "endpoint": "http://search.team-a.svc:6333"}, r.status); diff != "" {
		t.Errorf("status: -want, +got:\n%s", diff)
	}
}

func TestAPIKey(t *testing.T) {
	observedKey := obs(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"search-api-key","namespace":"team-a"},"data":{"api-key":"` + base64.StdEncoding.EncodeToString([]byte("kept-key")) + `"}}`)
	cases := map[string]struct {
		reason   string
		xr       string
		observed map[string]*fnv1.Resource
		wantKey  string // in the composed Secret; "" for none
		wantEnv  map[string]any
		wantConn map[string]string
	}{
		"ReusedFromObserved": {
			reason:   "A generated key is generated once; later calls reuse the observed value (no randomness is available here).",
			observed: map[string]*fnv1.Resource{"api-key": observedKey},
			wantKey:  "kept-key",
			wantEnv:  map[string]any{"name": "search-api-key", "key": "api-key"},
			wantConn: map[string]string{"apiKey": "kept-key"},
		},
		"ReferencedNeverCopied": {
			reason:   "A referenced Secret is used in place: no composed key Secret, and the connection Secret only points at it.",
			xr:       `, "apiKey": {"secretRef": {"name": "my-key", "key": "token"}}`,
			wantEnv:  map[string]any{"name": "my-key", "key": "token"},
			wantConn: map[string]string{"apiKeySecretName": "my-key", "apiKeySecretKey": "token"},
		},
		"SwitchedToReferenced": {
			reason: "A cluster whose generated key was observed switches to a referenced Secret: the old key is neither composed again nor published, so clients cannot keep using it.",
			xr:     `, "apiKey": {"secretRef": {"name": "my-key", "key": "token"}}`,
			// The generated key Secret is still observed: Crossplane deletes
			// it only once the function stops composing it.
			observed: map[string]*fnv1.Resource{"api-key": observedKey},
			wantEnv:  map[string]any{"name": "my-key", "key": "token"},
			wantConn: map[string]string{"apiKeySecretName": "my-key", "apiKeySecretKey": "token"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, nil, &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr(tc.xr), Resources: tc.observed}})
			if r.fatal != "" {
				t.Fatalf("%s\n%s", tc.reason, r.fatal)
			}
			s, ok := r.resources["api-key"]
			if (tc.wantKey != "") != ok {
				t.Fatalf("%s\nkey Secret composed: %v", tc.reason, ok)
			}
			if ok && secretValue(t, s, "api-key") != tc.wantKey {
				t.Errorf("%s\nkey: want %q, got %q", tc.reason, tc.wantKey, secretValue(t, s, "api-key"))
			}
			env := at(r.resources["release"], "spec", "forProvider", "values", "env").([]any)[0]
			if diff := cmp.Diff(tc.wantEnv, at(env.(map[string]any), "valueFrom", "secretKeyRef")); diff != "" {
				t.Errorf("%s\nenv secretKeyRef: -want, +got:\n%s", tc.reason, diff)
			}
			conn := r.resources["connection"]
			for k, v := range tc.wantConn {
				if got := secretValue(t, conn, k); got != v {
					t.Errorf("%s\nconnection %s: want %q, got %q", tc.reason, k, v, got)
				}
			}
			for _, k := range []string{"apiKey", "apiKeySecretName"} {
				if _, want := tc.wantConn[k]; !want && at(conn, "data", k) != nil {
					t.Errorf("%s\nconnection Secret must not carry %s", tc.reason, k)
				}
			}
			// No composed Secret may carry a key the XR no longer selects: the
			// only key value any input holds is the observed generated one.
			if tc.wantKey == "" {
				for _, o := range tc.observed {
					old := secretValue(t, o.GetResource().AsMap(), "api-key")
					for n, res := range r.resources {
						data, _ := at(res, "data").(map[string]any)
						for k, v := range data {
							if b, _ := base64.StdEncoding.DecodeString(v.(string)); strings.Contains(string(b), old) {
								t.Errorf("%s\n%s data.%s carries the observed key %q the XR no longer uses", tc.reason, n, k, old)
							}
						}
					}
				}
			}
		})
	}
}

func TestBackup(t *testing.T) {
	bucketObserved := func(name, ready string) *fnv1.Resource {
		return obs(`{"apiVersion":"s3.aws.m.upbound.io/v1beta1","kind":"Bucket","metadata":{"name":"` + name + `","namespace":"team-a","annotations":{"crossplane.io/external-name":"` + name + `"}},` +
			`"status":{"conditions":[{"type":"Ready","status":"` + ready + `","reason":"Available"}]}}`)
	}
	scheduleObserved := obs(`{"apiVersion":"ops.qdrantops.io/v1alpha1","kind":"BackupSchedule","metadata":{"name":"search","namespace":"team-a"}}`)
	// sha256("team-a/search/" + the XR's UID) begins 9860ea6c.
	const generated = "team-a-search-backups-9860ea6c"
	all := []string{"api-key", "backup-schedule", "bucket", "bucket-encryption", "bucket-lifecycle", "bucket-public-access-block", "bucket-versioning", "connection", "release"}
	noSchedule := []string{"api-key", "bucket", "bucket-encryption", "bucket-lifecycle", "bucket-public-access-block", "bucket-versioning", "connection", "release"}
	cases := map[string]struct {
		reason   string
		backup   string
		observed map[string]*fnv1.Resource
		want     []string
		bucket   string // "" when no bucket may be used
		days     float64
		wantCond string // a BackupConfigured reason
	}{
		"CreatedBucketFirst": {
			reason: "A created bucket is named after namespace and cluster plus a hash with the XR's UID, and comes with versioning, encryption, a public access block and lifecycle rules. The schedule waits until it is Ready: a bucket of that name made first by somebody else must never receive backups.",
			backup: `, "backup": {"schedule": "0 2 * * *", "retention": {"keepLast": 7}, "bucket": {"create": true, "region": "eu-central-1", "noncurrentVersionDays": 30}}`,
			want:   noSchedule, bucket: generated, days: 30, wantCond: reasonBucketNotReady,
		},
		"CreatedBucketNotReady": {
			reason:   "A bucket the S3 provider has not made Ready (the name is taken, or it is still being created) gets no schedule.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "bucket": {"create": true, "region": "eu-central-1"}}`,
			observed: map[string]*fnv1.Resource{"bucket": bucketObserved(generated, "False")},
			want:     noSchedule, bucket: generated, days: 7, wantCond: reasonBucketNotReady,
		},
		"CreatedBucketReady": {
			reason:   "Once the bucket is Ready, the schedule writes into it.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "retention": {"keepLast": 7}, "bucket": {"create": true, "region": "eu-central-1", "noncurrentVersionDays": 30}}`,
			observed: map[string]*fnv1.Resource{"bucket": bucketObserved(generated, "True")},
			want:     all, bucket: generated, days: 30, wantCond: reasonScheduleComposed,
		},
		"ScheduleKeptWhileBucketNotReady": {
			reason:   "A schedule already composed stays when its bucket stops being Ready: dropping it would delete it and its Backups.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "bucket": {"create": true, "region": "eu-central-1"}}`,
			observed: map[string]*fnv1.Resource{"bucket": bucketObserved(generated, "False"), "backup-schedule": scheduleObserved},
			want:     all, bucket: generated, days: 7, wantCond: reasonScheduleComposed,
		},
		"CreatedBucketDefaultDays": {
			reason:   "An XR stored before noncurrentVersionDays existed has no value: the function uses the XRD's default.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "bucket": {"create": true}}`,
			observed: map[string]*fnv1.Resource{"bucket": bucketObserved(generated, "True")},
			want:     all, bucket: generated, days: 7,
		},
		"CreatedBucketKeepsObservedName": {
			reason:   "A bucket composed before names carried a hash keeps its name: renaming it would orphan its backups and compose a second bucket.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "bucket": {"create": true}}`,
			observed: map[string]*fnv1.Resource{"bucket": bucketObserved("team-a-search-backups", "True")},
			want:     all, bucket: "team-a-search-backups", days: 7,
		},
		"NamedBucketOwned": {
			reason:   "An XR stored before the XRD refused name with create: true, whose bucket it already composes, keeps it.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "bucket": {"create": true, "name": "my-backups"}}`,
			observed: map[string]*fnv1.Resource{"bucket": bucketObserved("my-backups", "True")},
			want:     all, bucket: "my-backups", days: 7,
		},
		"NamedBucketNotOwned": {
			reason:   "A named bucket the XR does not already compose is never created: provider-upjet-aws would take over an existing bucket of that name. Nothing writes into it either.",
			backup:   `, "backup": {"schedule": "0 2 * * *", "bucket": {"create": true, "name": "someone-elses-bucket"}}`,
			want:     []string{"api-key", "connection", "release"},
			wantCond: "NamedBucketNotOwned",
		},
		"ExistingBucket": {
			reason: "An existing bucket is only referenced, and the schedule composed at once.",
			backup: `, "backup": {"schedule": "@daily", "bucket": {"name": "shared-backups", "prefix": "qdrant/"}}`,
			want:   []string{"api-key", "backup-schedule", "connection", "release"},
			bucket: "shared-backups", wantCond: reasonScheduleComposed,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, bytes.Repeat([]byte{1}, 32), &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr(tc.backup), Resources: tc.observed}})
			if r.fatal != "" {
				t.Fatalf("%s\n%s", tc.reason, r.fatal)
			}
			if diff := cmp.Diff(tc.want, keys(r.resources)); diff != "" {
				t.Errorf("%s\ncomposed resources: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.wantCond != "" && r.conds[typeBackupConfigured] != tc.wantCond {
				t.Errorf("%s\nwant BackupConfigured reason %s, got %v", tc.reason, tc.wantCond, r.conds)
			}
			if s, ok := r.resources["backup-schedule"]; ok && (at(s, "spec", "forProvider", "template", "storage", "s3", "bucket") != tc.bucket || at(s, "spec", "forProvider", "template", "clusterRef", "name") != "search") {
				t.Errorf("%s\nBackupSchedule: %v", tc.reason, at(s, "spec"))
			}
			for _, n := range []string{"bucket", "bucket-versioning", "bucket-encryption", "bucket-public-access-block", "bucket-lifecycle"} {
				if b, ok := r.resources[n]; ok && at(b, "metadata", "name") != tc.bucket {
					t.Errorf("%s\n%s: want name %q, got %v", tc.reason, n, tc.bucket, at(b, "metadata", "name"))
				}
			}
			if b, ok := r.resources["bucket"]; ok && at(b, "metadata", "annotations", "crossplane.io/external-name") != tc.bucket {
				t.Errorf("%s\nbucket external name: %v", tc.reason, at(b, "metadata"))
			}
			if l, ok := r.resources["bucket-lifecycle"]; ok {
				want := []any{
					map[string]any{
						"id": "abort-incomplete-multipart-uploads", "status": "Enabled",
						"filter":                         []any{map[string]any{"prefix": ""}},
						"abortIncompleteMultipartUpload": []any{map[string]any{"daysAfterInitiation": float64(1)}},
					},
					map[string]any{
						"id": "expire-noncurrent-versions", "status": "Enabled",
						"filter":                      []any{map[string]any{"prefix": ""}},
						"noncurrentVersionExpiration": []any{map[string]any{"noncurrentDays": tc.days}},
						"expiration":                  []any{map[string]any{"expiredObjectDeleteMarker": true}},
					},
				}
				if diff := cmp.Diff(want, at(l, "spec", "forProvider", "rule")); diff != "" {
					t.Errorf("%s\nlifecycle rules: -want, +got:\n%s", tc.reason, diff)
				}
			}
		})
	}
}

const (
	releaseReady  = `{"apiVersion":"helm.m.crossplane.io/v1beta1","kind":"Release","metadata":{"name":"search"},"spec":{"forProvider":{"values":{"persistence":{"size":"%s"}}}},"status":{"conditions":[{"type":"Ready","status":"True","reason":"Available"},{"type":"Synced","status":"True","reason":"ReconcileSuccess"}]}}`
	releaseFailed = `{"apiVersion":"helm.m.crossplane.io/v1beta1","kind":"Release","metadata":{"name":"search"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"Unavailable"},{"type":"Synced","status":"False","reason":"ReconcileError","message":"failed to install release: chart not found"}]}}`
	statefulSet   = `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"search","namespace":"team-a"},"spec":{"template":{"spec":{"containers":[{"name":"qdrant","image":"qdrant/qdrant:%s"}]}}},"status":{"readyReplicas":%d,"updatedReplicas":%d,"currentRevision":"a","updateRevision":"%s"}}`
)

func sts(image string, ready, updated int, rev string) map[string]*fnv1.Resources {
	return map[string]*fnv1.Resources{"statefulset": {Items: []*fnv1.Resource{obs(sprintf(statefulSet, image, ready, updated, rev))}}}
}

func TestStatus(t *testing.T) {
	key := obs(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"search-api-key"},"data":{"api-key":"a2V5"}}`)
	conn := obs(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"search-connection"}}`)
	cases := map[string]struct {
		reason      string
		release     string
		sts         map[string]*fnv1.Resources
		wantPhase   string
		wantReady   int
		wantVersion string
		relReady    fnv1.Ready
		wantCond    string
	}{
		"ObservedNotReady": {
			reason:  "Everything observed, pods not ready yet: Pending, nothing reports ready early.",
			release: sprintf(releaseReady, "10Gi"), sts: sts("v1.19.0", 0, 0, "a"),
			wantPhase: "Pending", relReady: fnv1.Ready_READY_FALSE,
		},
		"Running": {
			reason:  "All nodes ready on the desired version: Running and ready.",
			release: sprintf(releaseReady, "10Gi"), sts: sts("v1.19.0", 3, 3, "a"),
			wantPhase: "Running", wantReady: 3, wantVersion: "1.19.0", relReady: fnv1.Ready_READY_TRUE,
		},
		"Upgrading": {
			reason:  "Nodes serve an older version while the new one rolls out.",
			release: sprintf(releaseReady, "10Gi"), sts: sts("v1.18.2", 3, 1, "b"),
			wantPhase: "Upgrading", wantReady: 3, wantVersion: "1.18.2", relReady: fnv1.Ready_READY_FALSE,
		},
		"ReleaseFailed": {
			reason:    "A failed Helm install surfaces in the XR.",
			release:   releaseFailed,
			wantPhase: "Failed", relReady: fnv1.Ready_READY_FALSE, wantCond: "ReleaseHealthy",
		},
		"ShrinkRefused": {
			reason:  "Volumes cannot shrink: the observed size stays, with a condition saying why.",
			release: sprintf(releaseReady, "50Gi"), sts: sts("v1.19.0", 3, 3, "a"),
			wantPhase: "Running", wantReady: 3, wantVersion: "1.19.0", relReady: fnv1.Ready_READY_TRUE, wantCond: "PersistenceResized",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := &fnv1.RunFunctionRequest{
				Observed:          &fnv1.State{Composite: xr(""), Resources: map[string]*fnv1.Resource{"release": obs(tc.release), "api-key": key, "connection": conn}},
				RequiredResources: tc.sts,
			}
			r := run(t, nil, req)
			if r.fatal != "" {
				t.Fatalf("%s\n%s", tc.reason, r.fatal)
			}
			got := map[string]any{"phase": r.status["phase"], "ready": r.status["readyReplicas"], "version": r.status["version"]}
			want := map[string]any{"phase": tc.wantPhase, "ready": nilIfZero(tc.wantReady), "version": nilIfEmpty(tc.wantVersion)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s\nstatus: -want, +got:\n%s", tc.reason, diff)
			}
			if r.ready["release"] != tc.relReady {
				t.Errorf("%s\nrelease ready: want %v, got %v", tc.reason, tc.relReady, r.ready["release"])
			}
			if r.ready["api-key"] != fnv1.Ready_READY_TRUE || r.ready["connection"] != fnv1.Ready_READY_TRUE {
				t.Errorf("%s\nobserved Secrets are ready: %v", tc.reason, r.ready)
			}
			if tc.wantCond != "" && r.conds[tc.wantCond] == "" {
				t.Errorf("%s\nwant condition %s, got %v", tc.reason, tc.wantCond, r.conds)
			}
			if name == "ShrinkRefused" {
				if got := at(r.resources["release"], "spec", "forProvider", "values", "persistence", "size"); got != "50Gi" {
					t.Errorf("%s\nvolume size: want the observed 50Gi kept, got %v", tc.reason, got)
				}
			}
		})
	}
}

func TestResponseKeepsEarlierSteps(t *testing.T) {
	// Resources desired by earlier pipeline steps are passed on.
	req := &fnv1.RunFunctionRequest{
		Observed: &fnv1.State{Composite: xr("")},
		Desired:  &fnv1.State{Resources: map[string]*fnv1.Resource{"extra": obs(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`)}},
	}
	r := run(t, bytes.Repeat([]byte{2}, 32), req)
	if _, ok := r.resources["extra"]; !ok {
		t.Error("the function dropped a resource an earlier step desired")
	}
}

func keys(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func TestChartFromInput(t *testing.T) {
	cases := map[string]struct {
		reason string
		input  string
		want   map[string]any
	}{
		"Default": {reason: "Without input the official chart is used.", want: map[string]any{"name": "qdrant", "repository": chartRepository, "version": chartVersion}},
		"Mirror": {
			reason: "A mirrored repository and version replace the defaults; the name stays.",
			input:  `{"apiVersion":"compose.qdrantops.io/v1alpha1","kind":"Input","chart":{"repository":"http://127.0.0.1:8879","version":"0.1.0"}}`,
			want:   map[string]any{"name": "qdrant", "repository": "http://127.0.0.1:8879", "version": "0.1.0"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr("")}}
			if tc.input != "" {
				req.Input = resource.MustStructJSON(tc.input)
			}
			r := run(t, bytes.Repeat([]byte{3}, 32), req)
			if diff := cmp.Diff(tc.want, at(r.resources["release"], "spec", "forProvider", "chart")); diff != "" {
				t.Errorf("%s\nchart: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestReleaseProviderConfig(t *testing.T) {
	const input = `{"apiVersion":"compose.qdrantops.io/v1alpha1","kind":"Input","release":{"providerConfigRef":%s}}`
	cases := map[string]struct {
		reason    string
		ref       string // the input's providerConfigRef, JSON; "" for no input
		want      any    // the Release's spec.providerConfigRef
		wantFatal bool
	}{
		"Default": {
			reason: "Without input the Release names the namespaced ProviderConfig default of the XR's namespace; left out, provider-helm would use the ClusterProviderConfig default and its cluster-wide rights on release records the tenant can forge.",
			want:   map[string]any{"kind": "ProviderConfig", "name": "default"},
		},
		"NamespacedByName": {
			reason: "A ProviderConfig named by the Composition replaces the default's name.",
			ref:    `{"kind":"ProviderConfig","name":"tenant-helm"}`,
			want:   map[string]any{"kind": "ProviderConfig", "name": "tenant-helm"},
		},
		"KindLeftOut": {
			reason: "A reference without kind is namespaced, as the input CRD's default says.",
			ref:    `{"name":"tenant-helm"}`,
			want:   map[string]any{"kind": "ProviderConfig", "name": "tenant-helm"},
		},
		"SingleTenant": {
			reason: "An admin of a single-tenant cluster may name a ClusterProviderConfig in the Composition.",
			ref:    `{"kind":"ClusterProviderConfig","name":"default"}`,
			want:   map[string]any{"kind": "ClusterProviderConfig", "name": "default"},
		},
		"UnknownKind": {
			reason:    "A kind provider-helm does not know is refused, and no Release is composed with it.",
			ref:       `{"kind":"Secret","name":"default"}`,
			wantFatal: true,
		},
		"NoName": {
			reason:    "A reference without a name is refused.",
			ref:       `{"kind":"ProviderConfig"}`,
			wantFatal: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr("")}}
			if tc.ref != "" {
				req.Input = resource.MustStructJSON(strings.Replace(input, "%s", tc.ref, 1))
			}
			r := run(t, bytes.Repeat([]byte{3}, 32), req)
			if got := r.fatal != ""; got != tc.wantFatal {
				t.Fatalf("%s\nfatal: want %v, got %q", tc.reason, tc.wantFatal, r.fatal)
			}
			if tc.wantFatal {
				return
			}
			if diff := cmp.Diff(tc.want, at(r.resources["release"], "spec", "providerConfigRef")); diff != "" {
				t.Errorf("%s\nproviderConfigRef: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// scheduleObserved is a BackupSchedule as the apiserver holds it, with the
// status given (JSON, "" for none).
func scheduleObserved(status string) *fnv1.Resource {
	j := `{"apiVersion":"ops.qdrantops.io/v1alpha1","kind":"BackupSchedule","metadata":{"name":"search","namespace":"team-a"},"spec":{"forProvider":{"schedule":"0 2 * * *","concurrencyPolicy":"Forbid","template":{"clusterRef":{"name":"search"},"storage":{"s3":{"bucket":"shared-backups"}},"parallelism":4}}}`
	if status != "" {
		j += `,"status":` + status
	}
	return obs(j + "}")
}

func TestBackupScheduleReport(t *testing.T) {
	backup := `, "backup": {"schedule": "0 2 * * *", "bucket": {"name": "shared-backups"}}`
	const (
		synced    = `{"type":"Synced","status":"True","reason":"ReconcileSuccess","lastTransitionTime":"2026-11-27T10:00:00Z"}`
		available = `{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-11-27T10:00:00Z"}`
		suspended = `{"type":"Ready","status":"True","reason":"Suspended","lastTransitionTime":"2026-11-27T10:00:00Z"}`
		onTime    = `{"type":"BackupOverdue","status":"False","reason":"BackupsOnSchedule","lastTransitionTime":"2026-11-27T10:00:00Z"}`
		late      = `{"type":"BackupOverdue","status":"True","reason":"NoRecentBackup","message":"no backup completed in 50h (last success 2026-11-25T02:04:00Z)","lastTransitionTime":"2026-11-27T10:00:00Z"}`
		invalid   = `{"type":"Synced","status":"False","reason":"ReconcileError","message":"cannot parse schedule","lastTransitionTime":"2026-11-27T10:00:00Z"}`
	)
	// wantCond is the XR's BackupOverdue condition: status, reason, message.
	type cond struct{ Status, Reason, Message string }
	cases := map[string]struct {
		reason     string
		xr         string
		observed   map[string]*fnv1.Resource
		wantReady  fnv1.Ready
		wantStatus any // status.backup
		wantCond   *cond
	}{
		"NotYetCreated": {
			reason:    "A BackupSchedule the apiserver does not hold yet is not ready and reports nothing.",
			xr:        backup,
			wantReady: fnv1.Ready_READY_FALSE,
		},
		"HeldNotReconciled": {
			reason:    "A BackupSchedule its controller has not reconciled yet is not ready, and the XR says it does not know whether backups are on schedule rather than that they are.",
			xr:        backup,
			observed:  map[string]*fnv1.Resource{"backup-schedule": scheduleObserved("")},
			wantReady: fnv1.Ready_READY_FALSE,
			wantCond:  &cond{"Unknown", reasonScheduleNotReporting, "BackupSchedule search has not reported whether its backups are on schedule yet"},
		},
		"Invalid": {
			reason:    "A schedule its controller cannot reconcile is not ready, and nothing says its backups are on time.",
			xr:        backup,
			observed:  map[string]*fnv1.Resource{"backup-schedule": scheduleObserved(`{"conditions":[` + invalid + `]}`)},
			wantReady: fnv1.Ready_READY_FALSE,
			wantCond:  &cond{"Unknown", reasonScheduleNotReporting, "BackupSchedule search has not reported whether its backups are on schedule yet"},
		},
		"OnSchedule": {
			reason:     "A valid schedule is ready once its controller says so; the XR shows its last success and next backup, not overdue.",
			xr:         backup,
			observed:   map[string]*fnv1.Resource{"backup-schedule": scheduleObserved(`{"conditions":[` + synced + `,` + available + `,` + onTime + `],"atProvider":{"lastSuccessfulBackupTime":"2026-11-27T01:04:05Z","nextBackupTime":"2026-11-28T01:00:00Z","lastBackupName":"search-1795741200"}}`)},
			wantReady:  fnv1.Ready_READY_TRUE,
			wantStatus: map[string]any{"lastSuccessfulTime": "2026-11-27T01:04:05Z", "nextTime": "2026-11-28T01:00:00Z", "overdue": false},
			wantCond:   &cond{"False", "BackupsOnSchedule", ""},
		},
		"Overdue": {
			reason:     "An overdue schedule is still ready (it works, its backups fail): the XR says overdue, with the schedule's message, in its status and its BackupOverdue condition.",
			xr:         backup,
			observed:   map[string]*fnv1.Resource{"backup-schedule": scheduleObserved(`{"conditions":[` + synced + `,` + available + `,` + late + `],"atProvider":{"lastSuccessfulBackupTime":"2026-11-25T02:04:00Z","nextBackupTime":"2026-11-28T01:00:00Z"}}`)},
			wantReady:  fnv1.Ready_READY_TRUE,
			wantStatus: map[string]any{"lastSuccessfulTime": "2026-11-25T02:04:00Z", "nextTime": "2026-11-28T01:00:00Z", "overdue": true, "message": "no backup completed in 50h (last success 2026-11-25T02:04:00Z)"},
			wantCond:   &cond{"True", "NoRecentBackup", "no backup completed in 50h (last success 2026-11-25T02:04:00Z)"},
		},
		"Suspended": {
			reason:     "A suspended schedule is ready and has no next backup.",
			xr:         backup,
			observed:   map[string]*fnv1.Resource{"backup-schedule": scheduleObserved(`{"conditions":[` + synced + `,` + suspended + `,` + onTime + `]}`)},
			wantReady:  fnv1.Ready_READY_TRUE,
			wantStatus: map[string]any{"overdue": false},
			wantCond:   &cond{"False", "BackupsOnSchedule", ""},
		},
		"NoLongerComposed": {
			reason:   "A schedule the XR no longer composes (spec.backup removed) is about to be deleted: the XR reports nothing of it.",
			observed: map[string]*fnv1.Resource{"backup-schedule": scheduleObserved(`{"conditions":[` + synced + `,` + available + `,` + late + `]}`)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, bytes.Repeat([]byte{4}, 32), &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr(tc.xr), Resources: tc.observed}})
			if r.fatal != "" || len(r.warnings) > 0 {
				t.Fatalf("%s\nfatal: %s, warnings: %v", tc.reason, r.fatal, r.warnings)
			}
			if got := r.ready["backup-schedule"]; got != tc.wantReady {
				t.Errorf("%s\nBackupSchedule ready: want %v, got %v", tc.reason, tc.wantReady, got)
			}
			if diff := cmp.Diff(tc.wantStatus, r.status["backup"]); diff != "" {
				t.Errorf("%s\nstatus.backup: -want, +got:\n%s", tc.reason, diff)
			}
			var got *cond
			if c, ok := r.condition["BackupOverdue"]; ok {
				if c.GetTarget() != fnv1.Target_TARGET_COMPOSITE {
					t.Errorf("%s\nBackupOverdue targets %v, want the composite", tc.reason, c.GetTarget())
				}
				got = &cond{strings.TrimPrefix(c.GetStatus().String(), "STATUS_CONDITION_"), c.GetReason(), c.GetMessage()}
				got.Status = map[string]string{"TRUE": "True", "FALSE": "False", "UNKNOWN": "Unknown"}[got.Status]
			}
			if diff := cmp.Diff(tc.wantCond, got); diff != "" {
				t.Errorf("%s\nXR condition BackupOverdue: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestScheduleUndecodable(t *testing.T) {
	// The apiserver validates a BackupSchedule's times; should one still not
	// decode, the XR is composed anyway and says why it has no backup status.
	bad := scheduleObserved(`{"conditions":[{"type":"BackupOverdue","status":"True","reason":"NoRecentBackup"}],"atProvider":{"nextBackupTime":"tomorrow"}}`)
	r := run(t, bytes.Repeat([]byte{5}, 32), &fnv1.RunFunctionRequest{Observed: &fnv1.State{
		Composite: xr(`, "backup": {"schedule": "0 2 * * *", "bucket": {"name": "shared-backups"}}`),
		Resources: map[string]*fnv1.Resource{"backup-schedule": bad},
	}})
	if r.fatal != "" {
		t.Fatalf("an undecodable BackupSchedule must not stop composition: %s", r.fatal)
	}
	if len(r.warnings) != 1 || !strings.Contains(r.warnings[0], "cannot decode the observed BackupSchedule") {
		t.Errorf("want one warning that the BackupSchedule cannot be decoded, got %v", r.warnings)
	}
	if _, ok := r.resources["backup-schedule"]; !ok || r.status["backup"] != nil {
		t.Errorf("want the BackupSchedule still composed and no status.backup; composed %v, status.backup %v", keys(r.resources), r.status["backup"])
	}
}

func TestStorageClassNameInjection(t *testing.T) {
	cases := map[string]struct {
		reason    string
		class     string
		wantFatal bool
	}{
		"Name": {
			reason: "A StorageClass name goes into the values.",
			class:  "fast.ssd-1",
		},
		"Manifest": {
			reason:    "An XR stored before the XRD refused it: the chart prints storageClassName unquoted, so a newline and '---' would add objects to the release. Nothing is composed.",
			class:     "standard\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding",
			wantFatal: true,
		},
		"Spaces": {
			reason:    "Anything but a DNS subdomain is refused, not just newlines.",
			class:     "standard # comment",
			wantFatal: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			class, err := json.Marshal(tc.class)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, bytes.Repeat([]byte{1}, 32), &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: obs(strings.NewReplacer(`"storageClassName": "standard"`, `"storageClassName": `+string(class), "%s", "").Replace(xrBase))}})
			if got := r.fatal != ""; got != tc.wantFatal {
				t.Fatalf("%s\nfatal: want %t, got %q", tc.reason, tc.wantFatal, r.fatal)
			}
			if tc.wantFatal {
				if len(r.resources) != 0 {
					t.Errorf("%s\nwant nothing composed, got %v", tc.reason, keys(r.resources))
				}
				return
			}
			if got := at(r.resources["release"], "spec", "forProvider", "values", "persistence", "storageClassName"); got != tc.class {
				t.Errorf("%s\nvalues.persistence.storageClassName: want %q, got %v", tc.reason, tc.class, got)
			}
		})
	}
}
