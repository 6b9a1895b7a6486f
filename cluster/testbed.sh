#!/usr/bin/env bash
# Starts and stops the local test ground: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (fake nodes that run pods) and an
# S3 server, all built from their Go modules by cluster/build.sh and listening on
# 127.0.0.1 only.
#
#   cluster/testbed.sh up     start everything; writes $TESTBED/kubeconfig and $TESTBED/env
#   cluster/testbed.sh down   stop everything and remove the state folder
#   cluster/testbed.sh env    print the environment of a running test ground
#
# TESTBED (default _output/testbed) holds state, logs and pid files. Ports are
# chosen from QDRANTOPS_PORT_BASE (default 26400) upwards: below Linux's
# ephemeral range (32768+), so a connection another process opens cannot hold
# one. S3 is versitygw unless S3_SERVER=minio.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
state=${TESTBED:-$root/_output/testbed}
base=${QDRANTOPS_PORT_BASE:-26400}
s3_server=${S3_SERVER:-versitygw}

etcd_port=$((base + 0)); etcd_peer_port=$((base + 1)); api_port=$((base + 2))
kcm_port=$((base + 3)); sched_port=$((base + 4)); kwok_port=$((base + 5)); s3_port=$((base + 6))
s3_access=${S3_ACCESS_KEY:-qdrantops}
s3_secret=${S3_SECRET_KEY:-qdrantops-secret}

log() { echo "testbed: $*" >&2; }

# start NAME CMD...: runs CMD in the background, logging to $state/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
}

# wait_for NAME CMD...: polls CMD until it succeeds, failing after 60 s or if NAME died.
wait_for() {
  local name=$1; shift
  for _ in $(seq 1 240); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
      log "$name exited; last lines of its log:"; tail -n 30 "$state/$name.log" >&2; return 1
    fi
    sleep 0.25
  done
  log "$name not ready after 60 s; last lines of its log:"; tail -n 30 "$state/$name.log" >&2; return 1
}

certs() {
  local d=$state/pki; mkdir -p "$d"; cd "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=qdrantops-testbed-ca" \
    -keyout ca.key -out ca.crt 2>/dev/null
  # The serving certificate answers for loopback only.
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >apiserver.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile apiserver.ext -out apiserver.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=admin/O=system:masters" -keyout admin.key -out admin.csr 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out admin.crt 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  cd - >/dev/null
}

# kubeconfig embeds the certificates, so that programs that read it from a
# Secret or as bytes (provider-helm) need no files beside it.
kubeconfig() {
  local d=$state/pki
  cat >"$state/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority-data: "$(base64 -w0 <"$d/ca.crt")"}
users:
- name: admin
  user: {client-certificate-data: "$(base64 -w0 <"$d/admin.crt")", client-key-data: "$(base64 -w0 <"$d/admin.key")"}
contexts:
- name: testbed
  context: {cluster: testbed, user: admin}
current-context: testbed
KC
}

up() {
  if [ -f "$state/env" ]; then log "already up (state in $state); run down first"; return 1; fi
  "$here/build.sh" kubernetes etcd kwok "$s3_server"
  local kube etcd kwok s3
  kube=$("$here/build.sh" --path kubernetes); etcd=$("$here/build.sh" --path etcd)
  kwok=$("$here/build.sh" --path kwok); s3=$("$here/build.sh" --path "$s3_server")
  rm -rf "$state"; mkdir -p "$state/etcd" "$state/s3"
  certs; kubeconfig
  local kc=$state/kubeconfig kubectl="$kube/kubectl --kubeconfig $state/kubeconfig"

  start etcd "$etcd/etcd" --name testbed --data-dir "$state/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "testbed=http://127.0.0.1:$etcd_peer_port" --listen-metrics-urls ""
  wait_for etcd curl -fs "http://127.0.0.1:$etcd_port/health"

  start kube-apiserver "$kube/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --endpoint-reconciler-type none --service-cluster-ip-range 10.96.0.0/16 \
    --tls-cert-file "$state/pki/apiserver.crt" --tls-private-key-file "$state/pki/apiserver.key" \
    --client-ca-file "$state/pki/ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$state/pki/sa.pub" \
    --service-account-signing-key-file "$state/pki/sa.key" --allow-privileged
  wait_for kube-apiserver $kubectl get --raw /readyz

  start kube-controller-manager "$kube/kube-controller-manager" --kubeconfig "$kc" \
    --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
    --service-account-private-key-file "$state/pki/sa.key" --root-ca-file "$state/pki/ca.crt" \
    --controllers '*,-node-ipam-controller,-persistentvolume-attach-detach-controller'
  start kube-scheduler "$kube/kube-scheduler" --kubeconfig "$kc" \
    --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false
  # A node lease, renewed as a kubelet does: without one, kube-controller-
  # manager takes the fake node for lost after 50 s and marks its pods not ready.
  start kwok "$kwok/kwok" --kubeconfig "$kc" --config "$kwok/stages.yaml" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --server-address "127.0.0.1:$kwok_port" --node-ip 127.0.0.1 --cidr 10.244.0.0/16 \
    --node-lease-duration-seconds 40
  case $s3_server in
    versitygw) start s3 "$s3/versitygw" --port "127.0.0.1:$s3_port" --access "$s3_access" --secret "$s3_secret" \
      --region us-east-1 --health /health posix "$state/s3" ;;
    minio) MINIO_ROOT_USER=$s3_access MINIO_ROOT_PASSWORD=$s3_secret MINIO_BROWSER=off \
      start s3 "$s3/minio" server --address "127.0.0.1:$s3_port" --console-address "127.0.0.1:$((base + 7))" "$state/s3" ;;
  esac
  wait_for s3 curl -s -o /dev/null "http://127.0.0.1:$s3_port/"

  # One fake node that kwok keeps Ready, so pods get scheduled and run.
  $kubectl apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
spec:
  taints: []
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "250"}
  capacity: {cpu: "64", memory: 256Gi, pods: "250"}
NODE
  wait_for kwok bash -c "$kubectl get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"
  wait_for kube-controller-manager bash -c "$kubectl get serviceaccount default -n default"

  cat >"$state/env" <<ENV
export KUBECONFIG=$kc
export TESTBED=$state
export KUBEBUILDER_ASSETS=$(assets)
export S3_ENDPOINT=http://127.0.0.1:$s3_port
export S3_ACCESS_KEY=$s3_access
export S3_SECRET_KEY=$s3_secret
export S3_REGION=us-east-1
export S3_SERVER=$s3_server
ENV
  log "up: kubeconfig $kc, S3 ($s3_server) at http://127.0.0.1:$s3_port; source $state/env"
}

# assets prints a folder holding kube-apiserver, etcd and kubectl, as envtest
# expects in KUBEBUILDER_ASSETS.
assets() {
  local kube etcd dir
  kube=$("$here/build.sh" --path kubernetes); etcd=$("$here/build.sh" --path etcd)
  dir=${QDRANTOPS_CACHE:-$HOME/.cache/qdrantops}/envtest/$(basename "$kube")_$(basename "$etcd")
  if [ ! -x "$dir/etcd" ]; then
    mkdir -p "$dir"
    ln -sf "$kube/kube-apiserver" "$dir/kube-apiserver"
    ln -sf "$kube/kubectl" "$dir/kubectl"
    ln -sf "$etcd/etcd" "$dir/etcd"
  fi
  echo "$dir"
}

down() {
  local p
  for n in kwok kube-scheduler kube-controller-manager s3 kube-apiserver etcd; do
    [ -f "$state/$n.pid" ] || continue
    p=$(cat "$state/$n.pid")
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$state"
  log "down"
}

case ${1:-} in
  # A start that fails half-way stops what it started. The start runs in a
  # process of its own so that errexit still applies inside it.
  up) if ! bash "$0" _up; then down; exit 1; fi ;;
  _up) up ;;
  down) down ;;
  env) cat "$state/env" ;;
  assets) "$here/build.sh" kubernetes etcd; assets ;;
  *) echo "usage: $0 up|down|env|assets" >&2; exit 2 ;;
esac
