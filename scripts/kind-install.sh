#!/usr/bin/env bash
# Try the operator on a local kind cluster: builds the image from the repo's Dockerfile, loads it
# into kind (no registry needed), installs the Helm chart and applies an example UnmuteDeployment.
# Needs docker, kind, kubectl and helm on PATH. kind nodes have no GPUs, so the GPU tiers stay
# Pending and the example reports Ready=False with the reason: this shows the install, RBAC,
# status and events, not a working voice stack. Not run by the project's tests (no container engine there).
#
# Environment (all optional):
#   KIND_CLUSTER  kind cluster name, created when missing   (default: unmute)
#   IMAGE         image reference to build and load         (default: unmute-operator:dev)
#   NAMESPACE     namespace of the operator                 (default: unmute-system)
#   EXAMPLE       UnmuteDeployment to apply                 (default: examples/external-llm.yaml)
#   HF_TOKEN, LLM_API_KEY  values for the Secrets the examples reference (default: placeholders)
set -euo pipefail

KIND_CLUSTER=${KIND_CLUSTER:-unmute}
IMAGE=${IMAGE:-unmute-operator:dev}
NAMESPACE=${NAMESPACE:-unmute-system}
EXAMPLE=${EXAMPLE:-examples/external-llm.yaml}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-install: $tool is required on PATH" >&2; exit 1; }
done
case "$IMAGE" in
  *:*) repository=${IMAGE%:*}; tag=${IMAGE##*:} ;;
  *) echo "kind-install: IMAGE must be repository:tag" >&2; exit 1 ;;
esac
context="kind-$KIND_CLUSTER"
log() { printf '==> %s\n' "$*"; }

if ! kind get clusters | grep -qx "$KIND_CLUSTER"; then
  log "creating kind cluster $KIND_CLUSTER"
  kind create cluster --name "$KIND_CLUSTER"
fi

log "building $IMAGE"
docker build -t "$IMAGE" .
log "loading $IMAGE into kind"
kind load docker-image "$IMAGE" --name "$KIND_CLUSTER"

# The operator meets the restricted Pod Security profile: enforce it on its namespace.
log "preparing namespace $NAMESPACE"
kubectl --context "$context" create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl --context "$context" apply -f -
kubectl --context "$context" label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted --overwrite

log "installing the chart"
# pullPolicy Never: the image exists only inside the kind nodes.
helm upgrade --install unmute-operator helm/unmute-operator \
  --kube-context "$context" --namespace "$NAMESPACE" \
  --set image.repository="$repository" --set image.tag="$tag" --set image.pullPolicy=Never \
  --wait --timeout 5m

log "applying $EXAMPLE"
example_ns=$(kubectl --context "$context" apply -f "$EXAMPLE" --dry-run=client -o jsonpath='{.metadata.namespace}')
example_ns=${example_ns:-default}
kubectl --context "$context" create namespace "$example_ns" --dry-run=client -o yaml | kubectl --context "$context" apply -f -
# The examples reference these Secrets; the operator only checks that they and their keys exist.
kubectl --context "$context" -n "$example_ns" create secret generic hf-token \
  --from-literal=token="${HF_TOKEN:-replace-me}" --dry-run=client -o yaml | kubectl --context "$context" apply -f -
kubectl --context "$context" -n "$example_ns" create secret generic llm-api-key \
  --from-literal=key="${LLM_API_KEY:-replace-me}" --dry-run=client -o yaml | kubectl --context "$context" apply -f -
kubectl --context "$context" apply -f "$EXAMPLE"

log "done; watch it with:"
echo "  kubectl --context $context get unmutedeployments -A -w"
echo "  kubectl --context $context -n $example_ns describe unmutedeployment"
echo "  kubectl --context $context -n $NAMESPACE logs deployment/unmute-operator -f"
