"""Terraform / OpenTofu: terraform fmt, python-hcl2 parsing and checkov policies.

`terraform validate` needs provider schemas, which `terraform init` downloads: every module
we generate uses a cloud provider, so validate cannot run offline (see docs/infrastructure.md).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import hcl2

from .registry import Finding, check
from .tools import run, tool

PRIVATE_NETWORK = "public endpoint with TLS and Entra ID; private endpoints need a VNet-integrated environment (docs/infrastructure.md)"
PER_ENVIRONMENT = "set per environment in terraform.tfvars (true in production)"
# Checks we skip, each with the reason a reviewer would accept.
CHECKOV_SKIPS = {
    "CKV_AWS_109": "KMS key policy: the account root administers its own key (AWS default key policy)",
    "CKV_AWS_111": "KMS key policy: the account root administers its own key (AWS default key policy)",
    "CKV_AWS_356": "KMS key policy: a key policy's resource is always '*' (the key itself)",
    "CKV_AWS_145": "ALB access-log buckets only support SSE-S3, not KMS",
    "CKV_AWS_18": "the access-log bucket is itself the log destination",
    "CKV_AWS_144": "access logs are not replicated across regions (90-day operational data)",
    "CKV2_AWS_62": "no consumer for access-log bucket events",
    "CKV_AWS_150": PER_ENVIRONMENT,
    "CKV_AWS_157": PER_ENVIRONMENT,
    "CKV_AWS_293": PER_ENVIRONMENT,
    "CKV2_AWS_50": PER_ENVIRONMENT,
    "CKV_AWS_260": "port 80 only redirects to HTTPS",
    "CKV2_AWS_57": "secret values are set outside Terraform; rotation belongs to the owner of each credential",
    "CKV_AWS_31": "in-transit encryption is on; access is limited to the private subnets (no AUTH token in state)",
    "CKV2_AWS_69": "rds.force_ssl / require_secure_transport are set through a dynamic block checkov cannot resolve",
    "CKV_AWS_192": "the KnownBadInputs managed rule set (Log4j) is attached through a dynamic block",
    "CKV2_AWS_76": "the KnownBadInputs managed rule set (Log4j) is attached through a dynamic block",
    "CKV_GCP_60": "Cloud SQL has no authorised network: only the IAM-authenticated Cloud SQL connector reaches it",
    "CKV_GCP_125": "the provider's attribute_condition pins the exact token subject (repository and environment)",
    "CKV_GCP_41": "the deployer must act as the runtime service account to deploy Cloud Run revisions",
    "CKV_GCP_49": "the deployer must act as the runtime service account to deploy Cloud Run revisions",
    "CKV_AZURE_136": PER_ENVIRONMENT,
    "CKV_AZURE_230": PER_ENVIRONMENT,
    "CKV_AZURE_109": PRIVATE_NETWORK,
    "CKV_AZURE_189": PRIVATE_NETWORK,
    "CKV_AZURE_89": PRIVATE_NETWORK,
    "CKV2_AZURE_32": PRIVATE_NETWORK,
    "CKV2_AZURE_57": PRIVATE_NETWORK,
    "CKV2_AZURE_26": "the 0.0.0.0 rule is Azure's 'allow Azure services' switch, not the internet",
    "CKV_AWS_38": "CI runners reach the API server over the internet; access is IAM-authenticated (API auth mode)",
    "CKV_AWS_39": "CI runners reach the API server over the internet; access is IAM-authenticated (API auth mode)",
    "CKV_AZURE_6": "CI runners reach the API server over the internet; access is Entra ID RBAC without local accounts",
    "CKV_AZURE_115": "CI runners reach the API server over the internet; access is Entra ID RBAC without local accounts",
    "CKV_AZURE_117": "OS disks are ephemeral with host encryption; a customer-managed disk encryption set is optional",
    "CKV_AZURE_170": "the paid SLA tier is per environment (Standard in production)",
    "CKV_AZURE_172": "secrets come from External Secrets, not the Secrets Store CSI driver",
    "CKV_GCP_24": "PodSecurityPolicy was removed in Kubernetes 1.25 (Pod Security admission labels are set per namespace)",
    "CKV_GCP_12": "Dataplane V2 (ADVANCED_DATAPATH) enforces network policies; the legacy addon must stay off",
    "CKV_GCP_20": "CI runners reach the API server over the internet; access is IAM-authenticated",
    "CKV_GCP_65": "Google Groups for RBAC needs a Google Workspace domain; IAM roles are used instead",
    "CKV_AWS_272": "packages are built and uploaded by CI through its OIDC role; code signing is optional hardening",
    "CKV_AWS_309": "the API is public: the application authenticates its own users",
    "CKV_AZURE_59": "the Functions host reaches its storage with its managed identity (shared keys are disabled)",
    "CKV_AZURE_206": "zone-redundant storage (ZRS) for the Functions host; its content is rebuilt by each deploy",
    "CKV_AZURE_33": "the storage account only holds the Functions host's packages and leases",
    "CKV_AZURE_225": "zone redundancy is a production sizing decision (Premium plan, three instances minimum)",
    "CKV_AZURE_212": "the instance minimum comes from the autoscaling answers per environment",
    "CKV_AZURE_221": "the function serves a public API: the application authenticates its own users",
    "CKV2_AZURE_33": PRIVATE_NETWORK,
    "CKV2_AZURE_1": "Microsoft-managed keys encrypt the host storage; it holds no application data",
    "CKV2_GCP_20": "MySQL point-in-time recovery is binary logging, which is enabled",
    "CKV_AZURE_94": PER_ENVIRONMENT,
    "CKV_AZURE_53": PRIVATE_NETWORK,
    "CKV2_AZURE_56": PRIVATE_NETWORK,
    "CKV_AZURE_101": PRIVATE_NETWORK,
    "CKV_AZURE_99": PRIVATE_NETWORK,
    "CKV_AZURE_100": "service-managed keys encrypt Cosmos DB at rest; customer-managed keys are optional",
    "CKV_GCP_79": "MySQL 8.4 is the long-term-support release; the newest innovation release is not for production",
    "CKV_AWS_394": "zones are chosen by name from the available ones; subnets pin them at creation",
    "CKV_AZURE_43": "storage account names are computed (lowercase letters and digits of the stack name, at most 24): "
                    "checkov cannot evaluate terraform.workspace, which names each preview",
}


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


@check("terraform", "terraform/*")
def terraform(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    directory = root / "terraform"
    code, out = run([tool("terraform"), "fmt", "-no-color", "-check", "-recursive", "-diff", str(directory)])
    if code:
        found.append(Finding("terraform fmt", "terraform", out))
    for path in files:
        if path.suffix in (".tf", ".tfvars"):
            try:
                hcl2.loads(path.read_text(encoding="utf-8"))
            except Exception as error:  # the parser's message is the finding
                found.append(Finding("python-hcl2", _rel(root, path), str(error)))
        else:
            found.append(Finding("terraform", _rel(root, path), "unexpected file type in terraform/"))
    return found + checkov(root, directory)


def checkov(root: Path, directory: Path) -> list[Finding]:
    """checkov's Terraform policies, offline, minus the justified skips."""
    proc = subprocess.run(
        [tool("checkov"), "-d", str(directory), "--framework", "terraform", "--skip-download", "--compact",
         "--quiet", "-o", "json", "--skip-check", ",".join(sorted(CHECKOV_SKIPS))],
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True, text=True, check=False, timeout=600,
    )
    if proc.returncode == 0:
        return []
    try:
        reports = json.loads(proc.stdout)
    except ValueError:
        return [Finding("checkov", "terraform", (proc.stdout + proc.stderr)[-2000:])]
    reports = reports if isinstance(reports, list) else [reports]
    return [
        Finding("checkov", f"terraform{failed['file_path']}", f"{failed['check_id']} {failed['resource']}: {failed['check_name']}")
        for report in reports
        for failed in report.get("results", {}).get("failed_checks", [])
    ]
