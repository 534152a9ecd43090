#!/usr/bin/env bash
# One-time set-up of a fresh machine: system packages, npm dependencies (Node 24 comes as an npm
# package), the local control-plane binaries and the add-ons the tests run (cached in
# ~/.cache/unmute-operator).
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" != 0 ]; then echo "[setup] need root for apt-get (or install ${need_apt[*]} yourself)"; exit 1; fi
  # The prometheus package would start a system service; nothing here wants it running.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Kubernetes 1.36 needs Go >= 1.26 (this machine kind ships it; Debian's golang-go is too old).
# (Captured first: `go version | grep -q` under pipefail can fail with SIGPIPE.)
go_version=$(go version 2>/dev/null || true)
if ! grep -qE 'go1\.(2[6-9]|[3-9][0-9])' <<< "$go_version"; then
  echo "[setup] Go >= 1.26 is required to build the local control plane; found: ${go_version:-no go}"; exit 1
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "[setup] node $(node_modules/.bin/node --version)"

npm run --silent cluster:build
# The third-party programs the add-on tests run: KEDA, prometheus-operator and upstream Prometheus
# (keda-hpa.full, monitoring-pipeline.full; Debian's Prometheus has no Kubernetes discovery) and
# Traefik (gateway-routing.full). Cold: about 31 min on 2 cores; warm: about a second.
npm run --silent cluster:build:extras -- keda prometheus-operator prometheus traefik
