#!/usr/bin/env bash
# Optional third-party programs (KEDA, prometheus-operator, Prometheus, Traefik), built like build.sh builds the
# control plane: pinned by versions.env, into the same cache, skipped when built, each checked to run.
# Separate from build.sh because they add a long cold build; the add-on tests (KEDA, the monitoring
# pipeline, routing through a gateway) need all four, which scripts/setup.sh builds.
# Usage: build-extras.sh [keda] [prometheus-operator] [prometheus] [traefik]
set -euo pipefail
log_tag=cluster:build:extras
# shellcheck source=build-common.sh
source "$(cd "$(dirname "$0")" && pwd)/build-common.sh"

# The replace, exclude and godebug lines of a go.mod, one per line, blocks flattened.
# Go ignores all three in a dependency, so a wrapper has to repeat them to build what upstream builds.
main_module_directives() {
  awk '
    { sub(/\/\/.*/, "") }
    /^(replace|exclude|godebug)[ \t]*\([ \t]*$/ { blk = $1; next }
    blk != "" && /^[ \t]*\)/ { blk = ""; next }
    blk != "" && NF { $1 = $1; print blk " " $0; next }
    /^(replace|exclude|godebug)[ \t]/ { $1 = $1; print }
  ' "$1"
}

# Writes go.mod of a wrapper module that builds MODULE@VERSION's commands (package dirs PKG...).
# A replace onto a directory of the upstream repo names a nested module, which the module zip leaves
# out: if upstream requires it at a published version that version is used; otherwise the caller must
# have put a stand-in at ./local/<module path> first.
write_wrapper() {
  local name=$1 mod=$2 ver=$3; shift 3
  local gomod; gomod=$(mod_field GoMod "$mod@$ver")
  [ -n "$gomod" ] || { echo "$mod@$ver: not downloadable" >&2; return 1; }
  local directives
  directives=$(main_module_directives "$gomod" | while read -r kind old rest; do
    case "$kind ${rest##*=> }" in
      "replace ."*)
        if [ -f "local/$old/go.mod" ]; then echo "replace $old => ./local/$old"
        elif grep -qE "^[[:space:]]*(require[[:space:]]+)?$old v[0-9]" "$gomod" && ! grep -qE "$old v0\.0\.0-00010101000000-" "$gomod"
        then echo "// $old: upstream's local replace dropped, its published version is required"
        else echo "$mod@$ver replaces $old with a local directory and no stand-in is at local/$old" >&2; exit 1; fi ;;
      *) echo "$kind $old $rest" ;;
    esac
  done) || return 1
  {
    echo "module unmute.local/$name-wrapper"
    echo
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo
    echo "require $mod $ver"
    echo
    echo "$directives"
    echo
    for p in "$@"; do echo "tool $mod/$p"; done
  } > go.mod
}

keda_mod=github.com/kedacore/keda/v2
build_keda() {
  local dir="$src/keda-$KEDA_VERSION"
  mkdir -p "$dir"; cd "$dir"
  write_wrapper keda "$keda_mod" "$KEDA_VERSION" cmd/operator cmd/adapter
  go mod tidy
  # KEDA logs this at start and tags its images with it, without the leading v.
  local ld="-s -w -X $keda_mod/version.Version=${KEDA_VERSION#v}"
  go build -trimpath -ldflags "$ld" -o "$bin/keda-operator" "$keda_mod/cmd/operator"
  go build -trimpath -ldflags "$ld" -o "$bin/keda-adapter" "$keda_mod/cmd/adapter"
}

promop_mod=github.com/prometheus-operator/prometheus-operator
build_prometheus_operator() {
  local dir="$src/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
  mkdir -p "$dir"; cd "$dir"
  write_wrapper prometheus-operator "$promop_mod" "$PROMETHEUS_OPERATOR_VERSION" cmd/operator
  go mod tidy
  # The operator derives its default config-reloader image tag from this version.
  local ld="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}"
  ld="$ld -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.BuildDate=19700101-00:00:00"
  go build -trimpath -ldflags "$ld" -o "$bin/prometheus-operator" "$promop_mod/cmd/operator"
}

prom_mod=github.com/prometheus/prometheus
# Prometheus v3.X.Y is published as Go module v0.3XX.Y.
prom_module_version() { local v=${1#v} major minor patch; IFS=. read -r major minor patch <<< "$v"; printf 'v0.%d%02d.%d' "$major" "$minor" "$patch"; }
build_prometheus() {
  local dir="$src/prometheus-$PROMETHEUS_VERSION" mv; mv=$(prom_module_version "$PROMETHEUS_VERSION")
  mkdir -p "$dir"; cd "$dir"
  write_wrapper prometheus "$prom_mod" "$mv" cmd/prometheus
  go mod tidy
  local ld="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}"
  ld="$ld -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.BuildDate=19700101-00:00:00"
  # Upstream's own switch for choosing service discoveries (plugins/*.go build tags): only Kubernetes
  # (plus the built-in static, file and HTTP ones). No builtinassets tag: the web UI is not embedded,
  # the HTTP API is complete.
  go build -trimpath -tags remove_all_sd,enable_kubernetes_sd -ldflags "$ld" -o "$bin/prometheus" "$prom_mod/cmd/prometheus"
}

traefik_mod=github.com/traefik/traefik/v3
build_traefik() {
  local dir="$src/traefik-$TRAEFIK_VERSION"
  mkdir -p "$dir"; cd "$dir"
  # Since v3.7 Traefik embeds types from its dynamic/ext module, an extension point of empty structs
  # that only exists inside its repo (a nested module, so not in the zip, and never published). The
  # stand-in declares exactly the types Traefik uses from it, each empty, as the open-source build has them.
  local up; up=$(mod_field Dir "$traefik_mod@$TRAEFIK_VERSION")
  local ext=local/github.com/traefik/traefik/dynamic/ext
  local users; users=$(grep -rlF --include='*.go' '"github.com/traefik/traefik/dynamic/ext"' "$up" || true)
  rm -rf local
  if [ -n "$users" ]; then
    local types; types=$(echo "$users" | xargs grep -hoE '\bext\.[A-Z][A-Za-z0-9_]*' | sort -u | cut -d. -f2)
    mkdir -p "$ext"
    printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24\n' > "$ext/go.mod"
    { echo "// Stand-in written by build-extras.sh: the types Traefik embeds, all empty."
      echo "package ext"
      for t in $types; do echo; echo "type $t struct{}"; done; } > "$ext/ext.go"
  fi
  write_wrapper traefik "$traefik_mod" "$TRAEFIK_VERSION" cmd/traefik
  go mod tidy
  local ld="-s -w -X $traefik_mod/pkg/version.Version=$TRAEFIK_VERSION -X $traefik_mod/pkg/version.BuildDate=1970-01-01T00:00:00Z"
  go build -trimpath -ldflags "$ld" -o "$bin/traefik" "$traefik_mod/cmd/traefik"
}

# Which extras: the arguments (keda, prometheus-operator, prometheus, traefik), all by default.
# scripts/setup.sh asks for the three the add-on tests need (keda.full, monitoring-pipeline.full).
all_extras="keda prometheus-operator prometheus traefik"
wanted=" ${*:-$all_extras} "
for w in $wanted; do case " $all_extras " in *" $w "*) ;; *) log "unknown extra '$w' (known: $all_extras)"; exit 2 ;; esac; done
want() { [[ "$wanted" == *" $1 "* ]]; }
reports() { local out; out=$("$bin/$1" "${@:3}" 2>&1) || true; grep -qF -- "$2" <<< "$out" || { log "$1 reports: $(head -1 <<< "$out"), expected $2"; exit 1; }; }

# Each built extra must run; those with a version command must report the pinned version. The output
# is captured first: `cmd | grep -q` under pipefail fails whenever grep exits before cmd has written all.
if want keda; then
  if built keda-operator "$KEDA_VERSION" && built keda-adapter "$KEDA_VERSION"; then log "keda $KEDA_VERSION: cached"; else
    log "keda $KEDA_VERSION: building keda-operator, keda-adapter (cold: every scaler's cloud SDK, 10-25 min on 2 cores)"
    with_progress keda build_keda; stamp keda-operator "$KEDA_VERSION"; stamp keda-adapter "$KEDA_VERSION"; fi
  copy_crds keda "$keda_mod" "$KEDA_VERSION" config/crd/bases
  "$bin/keda-operator" --help >/dev/null 2>&1
  "$bin/keda-adapter" --help >/dev/null 2>&1
fi
if want prometheus-operator; then
  if built prometheus-operator "$PROMETHEUS_OPERATOR_VERSION"; then log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION: cached"; else
    log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION: building (cold: 3-5 min on 2 cores)"
    with_progress prometheus-operator build_prometheus_operator; stamp prometheus-operator "$PROMETHEUS_OPERATOR_VERSION"; fi
  # build.sh copies the same directory; the Prometheus CRD is there even though clusters don't install it.
  copy_crds prometheus-operator "$promop_mod" "$PROMETHEUS_OPERATOR_VERSION" example/prometheus-operator-crd
  [ -f "$cache/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/monitoring.coreos.com_prometheuses.yaml" ] ||
    { log "the Prometheus CRD is missing from $cache/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"; exit 1; }
  reports prometheus-operator "${PROMETHEUS_OPERATOR_VERSION#v}" --version
fi
if want prometheus; then
  if built prometheus "$PROMETHEUS_VERSION"; then log "prometheus $PROMETHEUS_VERSION: cached"; else
    log "prometheus $PROMETHEUS_VERSION: building with Kubernetes discovery only (cold: 5-8 min on 2 cores)"
    with_progress prometheus build_prometheus; stamp prometheus "$PROMETHEUS_VERSION"; fi
  reports prometheus "version ${PROMETHEUS_VERSION#v}" --version
fi
if want traefik; then
  if built traefik "$TRAEFIK_VERSION"; then log "traefik $TRAEFIK_VERSION: cached"; else
    log "traefik $TRAEFIK_VERSION: building (cold: 6-12 min on 2 cores)"
    with_progress traefik build_traefik; stamp traefik "$TRAEFIK_VERSION"; fi
  reports traefik "$TRAEFIK_VERSION" version
fi
log "extras ($(echo $wanted)) in $bin run; total $(( $(date +%s) - start_all ))s"
