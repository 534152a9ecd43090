#!/usr/bin/env bash
# Builds the pinned control-plane binaries into a cache outside the repo, once per machine.
# Skips whatever is already built for the pinned version; checks every binary runs.
set -euo pipefail
# --extras also builds KEDA, prometheus-operator, Prometheus and Traefik (build-extras.sh, all of them).
extras=0
for a in "$@"; do
  case $a in
    --extras) extras=1 ;;
    *) echo "usage: build.sh [--extras]" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=build-common.sh
source "$here/build-common.sh"

# kubectl: for tests of what users type (kubectl explain, apply --dry-run=server).
k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
build_kubernetes() {
  local ver=$KUBERNETES_VERSION staging="v0.${KUBERNETES_VERSION#v1.}"
  local dir="$src/kubernetes-$ver"
  mkdir -p "$dir"
  cd "$dir"
  go mod download -json "k8s.io/kubernetes@$ver" > mod.json
  local gomod; gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' mod.json)
  {
    echo "module unmute.local/kubernetes-wrapper"
    echo
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes $ver"
    echo
    # Every staging module the real go.mod replaces with ./staging gets the matching published tag.
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u |
      while read -r m; do echo "replace $m => $m $staging"; done
    echo
    for b in "${k8s_bins[@]}"; do echo "tool k8s.io/kubernetes/cmd/$b"; done
  } > go.mod
  go mod tidy
  local major minor; major=$(echo "$ver" | cut -d. -f1 | tr -d v); minor=$(echo "$ver" | cut -d. -f2)
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$ver -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local pkgs=(); for b in "${k8s_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$bin/" "${pkgs[@]}"
}

build_etcd() {
  local dir="$src/etcd-$ETCD_VERSION"
  mkdir -p "$dir"; cd "$dir"
  cat > go.mod <<MOD
module unmute.local/etcd-wrapper

go 1.25.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

tool go.etcd.io/etcd/server/v3
MOD
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

build_go_install() { GOBIN="$bin" go install -trimpath -ldflags "-s -w" "$@"; }

t_k8s=$KUBERNETES_VERSION
all_k8s_built=1
for b in "${k8s_bins[@]}"; do built "$b" "$t_k8s" || all_k8s_built=0; done
if [ $all_k8s_built = 1 ]; then log "kubernetes $t_k8s: cached"; else
  log "kubernetes $t_k8s: building ${k8s_bins[*]} (cold: 15-30 min on 2 cores)"
  with_progress kubernetes build_kubernetes
  for b in "${k8s_bins[@]}"; do stamp "$b" "$t_k8s"; done
fi
if built etcd "$ETCD_VERSION"; then log "etcd $ETCD_VERSION: cached"; else
  log "etcd $ETCD_VERSION: building"; with_progress etcd build_etcd; stamp etcd "$ETCD_VERSION"; fi
for b in kwok kwokctl; do
  if built "$b" "$KWOK_VERSION"; then log "$b $KWOK_VERSION: cached"; else
    log "$b $KWOK_VERSION: building"; with_progress "$b" build_go_install "sigs.k8s.io/kwok/cmd/$b@$KWOK_VERSION"; stamp "$b" "$KWOK_VERSION"; fi
done
if built helm "$HELM_VERSION"; then log "helm $HELM_VERSION: cached"; else
  log "helm $HELM_VERSION: building"; with_progress helm build_go_install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"; stamp helm "$HELM_VERSION"; fi

copy_crds prometheus-operator github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" example/prometheus-operator-crd
copy_crds gateway-api sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION" config/crd/standard

# Every binary must run and report the pinned version. The output is captured before it is
# searched: `cmd | grep -q` under pipefail fails (141, SIGPIPE) whenever grep exits before cmd has
# written everything.
reports() { local out; out=$("$bin/$1" "${@:3}" 2>&1) || true; grep -qF -- "$2" <<< "$out" || { log "$1 reports: $(head -1 <<< "$out"), expected $2"; exit 1; }; }
reports kube-apiserver "$KUBERNETES_VERSION" --version
"$bin/kube-controller-manager" --version >/dev/null
"$bin/kube-scheduler" --version >/dev/null
reports kubectl "$KUBERNETES_VERSION" version --client
reports etcd "${ETCD_VERSION#v}" --version
"$bin/kwok" --version >/dev/null
"$bin/kwokctl" --version >/dev/null
"$bin/helm" version --short >/dev/null
log "all binaries in $bin run; total $(( $(date +%s) - start_all ))s"

if [ $extras = 1 ]; then bash "$here/build-extras.sh"; fi
