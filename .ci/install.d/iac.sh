#!/usr/bin/env bash
# Type-checkers of the generated IaC programs (Pulumi, AWS CDK, SST): TypeScript and the cloud SDKs
# at the exact versions the generated package.json files pin (extensions/catalog/facts/infra.yml,
# iac_tool.<tool>: dependencies, sdk, dev_dependencies). Idempotent: npm skips what is installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -t packages < <(python3 - <<'PY'
import yaml

facts = yaml.safe_load(open("extensions/catalog/facts/infra.yml", encoding="utf-8"))["iac_tool"]
pins = {}
for tool in facts.values():
    groups = [tool.get("dependencies", {}), tool.get("dev_dependencies", {}), *tool.get("sdk", {}).values()]
    for group in groups:
        for name, version in group.items():
            if pins.setdefault(name, str(version)) != str(version):
                raise SystemExit(f"{name} is pinned to {pins[name]} and {version} in facts/infra.yml")
print("\n".join(f"{name}@{version}" for name, version in sorted(pins.items())))
PY
)
npm install --prefix .ci/node-iac --no-audit --no-fund --silent --save-exact "${packages[@]}"
# cfn-lint validates the CloudFormation templates `cdk synth` writes for the generated CDK app.
if [ ! -x .ci/venvs/cfn-lint/bin/cfn-lint ]; then
  python3 -m venv .ci/venvs/cfn-lint
fi
.ci/venvs/cfn-lint/bin/python -m pip install -q cfn-lint==1.58.0
