# Sourced by build.sh and build-extras.sh: the cache layout and the helpers both builds share.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${UNMUTE_CACHE_DIR:-$HOME/.cache/unmute-operator}
bin="$cache/bin"
src="$cache/src"
mkdir -p "$bin" "$src" "$cache/crds"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
start_all=$(date +%s)
log() { printf '[%s %4ss] %s\n' "${log_tag:-cluster:build}" "$(( $(date +%s) - start_all ))" "$*"; }

# A stamp file per artifact records the version it was built from.
built() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" > "$bin/.$1.version"; }

# Runs a long command with a heartbeat so a cold build shows it is alive.
with_progress() {
  local what=$1; shift
  local t0; t0=$(date +%s)
  "$@" > "$cache/build-$what.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 15
    kill -0 "$pid" 2>/dev/null && log "$what: still building ($(( $(date +%s) - t0 ))s, log: $cache/build-$what.log)"
  done
  if ! wait "$pid"; then
    log "$what: FAILED, last lines of the log:"; tail -30 "$cache/build-$what.log"; exit 1
  fi
  log "$what: done in $(( $(date +%s) - t0 ))s"
}

# One field (Dir, GoMod, ...) of a downloaded module; outside any wrapper so no go.mod interferes.
mod_field() { (cd /tmp && go mod download -json "$2") | sed -n "s/.*\"$1\": \"\(.*\)\".*/\1/p"; }

# Third-party CRDs come from the pinned Go modules' own files; nothing of them is committed.
# copy_crds NAME MODULE VERSION SUBDIR fills $cache/crds/NAME-VERSION once.
copy_crds() {
  local dir="$cache/crds/$1-$3"
  if [ ! -d "$dir" ]; then
    local d; d=$(mod_field Dir "$2@$3")
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"; cp "$d/$4"/*.yaml "$dir.tmp/"; mv "$dir.tmp" "$dir"
  fi
  log "$1 CRDs $3: $(ls "$dir" | wc -l) files"
}
