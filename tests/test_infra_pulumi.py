"""Pulumi (TypeScript) for every cloud deploy target: tsc against the real SDKs, runs under the SDK's mocks, and what the program says."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answers_of, assert_valid, cloud_of, fit_previews, preset
from test_iac_program_identity import program_identities

BASE = {"environments": ["development", "qa", "staging", "production"], "notifications": ["slack"], "iac_tool": "pulumi"}
AWS = {"container_registry": "ecr", "secrets_manager": "aws_secrets_manager"}
GCP = {"container_registry": "artifact_registry", "secrets_manager": "gcp_secret_manager", "metrics": "prometheus_grafana"}
AZURE = {"container_registry": "acr", "secrets_manager": "azure_key_vault", "metrics": "prometheus_grafana"}
CASES: list[dict[str, Any]] = [
    {**AWS, "deploy_target": "aws_ecs_fargate", "database": "postgresql", "cache": "redis", "cost_alerts": True,
     "preview_environments": "full_stack", "backup_strategy": "continuous"},
    {**AWS, "deploy_target": "aws_app_runner", "has_worker": False, "database": "mysql", "cache": "none",
     "ci_platform": "gitlab_ci", "preview_environments": "none"},
    {**AWS, "deploy_target": "aws_lambda", "has_worker": False, "containerize": False, "app_language": "python",
     "database": "mongodb", "cache": "redis", "preview_environments": "frontend_only"},
    {**GCP, "deploy_target": "gcp_cloud_run", "database": "postgresql", "cache": "redis", "cost_alerts": True},
    {**GCP, "deploy_target": "gcp_cloud_run", "database": "mysql", "cache": "none", "app_language": "go",
     "ci_platform": "circleci", "preview_environments": "none"},
    {**AZURE, "deploy_target": "azure_container_apps", "database": "postgresql", "cache": "redis", "cost_alerts": True},
    {**AZURE, "deploy_target": "azure_functions", "has_worker": False, "containerize": False, "database": "mongodb",
     "cache": "none", "deployment_strategy": "blue_green", "ci_platform": "azure_devops", "preview_environments": "none"},
    {**AWS, "deploy_target": "kubernetes", "k8s_distribution": "eks", "database": "postgresql", "cache": "redis", "cost_alerts": True},
    {**GCP, "deploy_target": "kubernetes", "k8s_distribution": "gke", "database": "mysql", "cache": "none"},
    {**AZURE, "deploy_target": "kubernetes", "k8s_distribution": "aks", "database": "mysql", "cache": "redis",
     "ci_platform": "jenkins", "preview_environments": "none"},
]
# Resource types the application stack of each target must register (Pulumi type tokens).
STACK_TYPES = {
    "aws_ecs_fargate": ["aws:ec2/vpc:Vpc", "aws:ecs/cluster:Cluster", "aws:ecs/taskDefinition:TaskDefinition", "aws:ecs/service:Service",
                        "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup", "aws:lb/listener:Listener",
                        "aws:acm/certificateValidation:CertificateValidation", "aws:ec2/securityGroup:SecurityGroup",
                        "aws:cloudwatch/logGroup:LogGroup", "aws:appautoscaling/policy:Policy", "aws:wafv2/webAcl:WebAcl"],
    "aws_app_runner": ["aws:apprunner/service:Service", "aws:apprunner/vpcConnector:VpcConnector",
                       "aws:apprunner/autoScalingConfigurationVersion:AutoScalingConfigurationVersion",
                       "aws:apprunner/customDomainAssociation:CustomDomainAssociation"],
    "aws_lambda": ["aws:lambda/function:Function", "aws:lambda/alias:Alias", "aws:apigatewayv2/api:Api", "aws:apigatewayv2/stage:Stage",
                   "aws:apigatewayv2/domainName:DomainName", "aws:s3/bucket:Bucket", "aws:sqs/queue:Queue"],
    "gcp_cloud_run": ["gcp:cloudrunv2/service:Service", "gcp:serviceaccount/account:Account",
                      "gcp:secretmanager/secretIamMember:SecretIamMember", "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
                      "gcp:cloudrun/domainMapping:DomainMapping"],
    "azure_container_apps": ["azure-native:app:ManagedEnvironment", "azure-native:app:ContainerApp",
                             "azure-native:managedidentity:UserAssignedIdentity", "azure-native:authorization:RoleAssignment",
                             "azure-native:operationalinsights:Workspace"],
    "azure_functions": ["azure-native:web:WebApp", "azure-native:web:WebAppSlot", "azure-native:web:AppServicePlan",
                        "azure-native:storage:StorageAccount", "azure-native:applicationinsights:Component"],
    "eks": ["aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon",
            "aws:eks/podIdentityAssociation:PodIdentityAssociation"],
    "gke": ["gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool", "gcp:serviceaccount/iAMMember:IAMMember"],
    "aks": ["azure-native:containerservice:ManagedCluster", "azure-native:containerservice:AgentPool",
            "azure-native:managedidentity:FederatedIdentityCredential"],
}
DATABASE_TYPES = {
    ("aws", "postgresql"): "aws:rds/instance:Instance", ("aws", "mysql"): "aws:rds/instance:Instance",
    ("aws", "mongodb"): "aws:docdb/cluster:Cluster", ("gcp", "postgresql"): "gcp:sql/databaseInstance:DatabaseInstance",
    ("gcp", "mysql"): "gcp:sql/databaseInstance:DatabaseInstance", ("azure", "postgresql"): "azure-native:dbforpostgresql:Server",
    ("azure", "mysql"): "azure-native:dbformysql:Server", ("azure", "mongodb"): "azure-native:cosmosdb:DatabaseAccount",
}
CACHE_TYPES = {"aws": "aws:elasticache/replicationGroup:ReplicationGroup", "gcp": "gcp:redis/instance:Instance",
               "azure": "azure-native:redis:Redis"}
CI_TYPES = {"aws": "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
            "gcp": "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
            "azure": "azure-native:managedidentity:FederatedIdentityCredential"}
# Counted beyond what a pr-1 stack registers: one per CI identity (AWS: per inline policy of the CI roles).
IDENTITY_TYPES = {"aws": "aws:iam/rolePolicy:RolePolicy", "gcp": "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
                  "azure": "azure-native:managedidentity:UserAssignedIdentity"}
BUDGET_TYPES = {"aws": "aws:budgets/budget:Budget", "gcp": "gcp:billing/budget:Budget", "azure": "azure-native:consumption:Budget"}


def _id(case: dict[str, Any]) -> str:
    return f"{case['deploy_target']}-{case.get('k8s_distribution', case['database'])}"


def _generate(generate, case: dict[str, Any]) -> Path:
    tier = "enterprise" if case["deploy_target"] == "kubernetes" else "production"
    return generate(**fit_previews({**preset(tier), **BASE, **case}))


_cloud = cloud_of


def _stacks(project: Path) -> dict[str, dict[str, Any]]:
    return {p.name.split(".")[1]: yaml.safe_load(p.read_text())["config"] for p in (project / "pulumi").glob("Pulumi.*.yaml")}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_program_type_checks_and_every_stack_runs_under_mocks(generate, case):
    """tsc (strict) against the pinned SDKs, then node runs each stack file and a pr-1 preview with the SDK's mocks."""
    from harness import uncovered
    from harness.iac_programs import PREVIEW_STACK, REGISTERED

    project = _generate(generate, case)
    assert [f for f in uncovered(project) if f.startswith("pulumi/")] == []
    assert_valid(project, only={"pulumi", "yamllint", "pymarkdown"})
    a = answers_of(project)
    cloud = _cloud(a)
    registered = REGISTERED[project / "pulumi"]
    deployed = [e for e in a["environments"] if e != "development"]
    assert sorted(registered) == sorted([*deployed, PREVIEW_STACK])
    stack = a.get("k8s_distribution") if a["deploy_target"] == "kubernetes" else a["deploy_target"]
    oidc = (project / "pulumi/src/ci_oidc.ts").exists()
    identities = program_identities(project, "pulumi") if oidc else None
    for name, types in registered.items():
        missing = set(STACK_TYPES[stack]) - set(types)
        assert not missing, f"{name} registers no {sorted(missing)}"
        own_data = name != PREVIEW_STACK or a["preview_environments"] != "frontend_only"
        if a["database"] != "none" and (cloud, a["database"]) in DATABASE_TYPES:
            assert (DATABASE_TYPES[(cloud, a["database"])] in types) == own_data, name
        if a["cache"] == "redis":
            assert (CACHE_TYPES[cloud] in types) == own_data, name
        # The CI identity and budgets belong to long-lived environments only.
        if a["cost_alerts"]:
            assert (BUDGET_TYPES[cloud] in types) == (name != PREVIEW_STACK), name
        if cloud != "aws" and a["ci_platform"] in ("github_actions", "gitlab_ci", "azure_devops") and name != PREVIEW_STACK:
            ci = Counter(types)[CI_TYPES[cloud]] - Counter(registered[PREVIEW_STACK])[CI_TYPES[cloud]]
            trusts = 1 + len(identities["plan"].get(name, [])) + (len(identities["preview"]) if name == deployed[0] else 0)
            assert ci == trusts, f"{name}: the deploy, plan and preview trusts more than a preview"
        # The CI identities: deploy, read-only plan (where the CI has one) and, in the first stack, the preview identity.
        if name != PREVIEW_STACK and identities is not None:
            host = name == deployed[0] and bool(identities["preview"])
            # AWS: one inline policy per role (deploy, plan), two for the preview role (its rights and its guardrails)
            expected = 1 + (name in identities["plan"]) + host * (2 if cloud == "aws" else 1)
            extra = Counter(types)[IDENTITY_TYPES[cloud]] - Counter(registered[PREVIEW_STACK])[IDENTITY_TYPES[cloud]]
            assert extra == expected, f"{name}: {extra} CI identities, expected {expected} ({identities})"
    if cloud == "aws":
        # Exactly one stack per account creates the OIDC provider: the first deployed environment.
        creators = [name for name, types in registered.items() if CI_TYPES["aws"] in types]
        assert creators == [deployed[0]]
    # Previews are smaller: no high availability, one NAT gateway.
    if cloud == "aws":
        nat = Counter(registered[PREVIEW_STACK])["aws:ec2/natGateway:NatGateway"]
        assert nat == 1 and Counter(registered["production"])["aws:ec2/natGateway:NatGateway"] == 2


@pytest.mark.parametrize("case", CASES[:1] + CASES[3:4] + CASES[5:6], ids=_id)
def test_one_stack_per_deployed_environment_with_its_own_sizing(generate, case):
    from extensions.catalog import load_catalog
    from extensions.infra_model import build_infra

    project = _generate(generate, case)
    a = answers_of(project)
    slug = a["project_slug"]
    stacks = _stacks(project)
    assert sorted(stacks) == sorted(e for e in a["environments"] if e != "development")
    i = build_infra(load_catalog(), a)
    for env, config in stacks.items():
        assert all(key.startswith(f"{slug}:") for key in config), "project-namespaced keys only"
        e = i.env(env)
        assert config[f"{slug}:cpu"] == e.cpu_millicores and config[f"{slug}:memory"] == e.memory_mb
        assert config[f"{slug}:minInstances"] == e.min_replicas and config[f"{slug}:maxInstances"] == e.max_replicas
        assert config[f"{slug}:host"] == e.host
        assert config[f"{slug}:deletionProtection"] is (env == "production")
        assert config[f"{slug}:highAvailability"] is (env == "production")
    project_file = yaml.safe_load((project / "pulumi" / "Pulumi.yaml").read_text())
    assert project_file["name"] == slug
    defaults = {key: spec.get("default") for key, spec in project_file["config"].items()}
    smallest = min(i.environments, key=lambda e: e.cpu_millicores)
    assert defaults["cpu"] == smallest.cpu_millicores and defaults["deletionProtection"] is False
    assert "default" not in project_file["config"]["image"], "CI sets the exact image of every stack"
    if _cloud(a) == "aws":
        cidrs = [config[f"{slug}:vpcCidr"] for config in stacks.values()] + [defaults["vpcCidr"]]
        assert len(set(cidrs)) == len(cidrs), "every environment and the previews have their own /16"


def test_package_json_pins_exactly_the_catalog_versions(generate):
    from extensions.catalog import load_catalog

    project = _generate(generate, CASES[5])
    facts = load_catalog().option("iac_tool", "pulumi").facts
    manifest = json.loads((project / "pulumi" / "package.json").read_text())
    assert manifest["dependencies"] == {**facts["dependencies"], **facts["sdk"]["azure"]}
    assert manifest["devDependencies"] == facts["dev_dependencies"]
    assert json.loads((project / "pulumi" / "tsconfig.json").read_text())["compilerOptions"]["strict"] is True
    install = (Path(__file__).resolve().parents[1] / ".ci" / "install.d" / "iac.sh").read_text()
    assert "facts/infra.yml" in install and "@pulumi" not in install, "the install script reads the pins, never repeats them"


def test_no_secret_value_in_committed_files(generate):
    """Secrets live in the cloud's secret manager: stack files hold sizing only, and no secret value enters the state."""
    for case in (CASES[0], CASES[3], CASES[5]):
        project = _generate(generate, case)
        for stack in (project / "pulumi").glob("Pulumi.*.yaml"):
            config = yaml.safe_load(stack.read_text())["config"]
            assert not [k for k in config if re.search(r"(?i)password|token|secret|api_?key", k)], stack.name
            assert not [v for v in config.values() if isinstance(v, dict) and "secure" in v], "no encrypted config either"
        program = "\n".join(p.read_text() for p in (project / "pulumi").rglob("*.ts"))
        assert not re.search(r"SecretVersion\(|keyvault\.Secret\(|requireSecret", program), "secret values are set outside Pulumi"
        assert "secretNames" in program


def test_ci_and_previews_drive_the_stacks(generate):
    from extensions.catalog import load_catalog
    from extensions.rules import previews_need_target_support

    catalog = load_catalog()
    fact = catalog.option("iac_tool", "pulumi").facts
    assert '--stack "{env}"' in fact["plan"] and '--stack "{env}"' in fact["apply"]
    assert 'stack select --create "{name}"' in fact["preview_up"] and 'config set image "$IMAGE"' in fact["preview_up"]
    assert 'pulumi destroy --cwd pulumi --stack "{name}"' in fact["preview_down"] and 'stack rm "{name}"' in fact["preview_down"]
    for target in ("aws_ecs_fargate", "aws_app_runner", "aws_lambda", "azure_container_apps", "azure_functions"):
        answers = {"deploy_target": target, "iac_tool": "pulumi", "preview_environments": "full_stack"}
        assert list(previews_need_target_support(catalog, answers)) == []
    project = _generate(generate, CASES[0])
    docs = (project / "docs" / "infrastructure.md").read_text()
    assert "## Pulumi" in docs and "pulumi login" in docs and "PULUMI_BACKEND_URL" in docs
    assert "pulumi stack select --create pr-<number>" in docs
    assert not (project / "terraform").exists()


def test_harness_catches_a_broken_program(generate, tmp_path):
    """The check is real: a type error, an undeclared stack key and a drifted pin are each reported."""
    from harness import validate_tree

    project = _generate(generate, CASES[1])
    broken = tmp_path / "broken"
    shutil.copytree(project, broken, ignore=shutil.ignore_patterns("node_modules"))
    program = broken / "pulumi"
    (program / "src" / "config.ts").write_text((program / "src" / "config.ts").read_text() + "\nexport const wrong: number = \"text\";\n")
    stack = program / "Pulumi.staging.yaml"
    stack.write_text(stack.read_text() + f"  {answers_of(project)['project_slug']}:unknownKey: 1\n")
    manifest = json.loads((program / "package.json").read_text())
    manifest["dependencies"]["@pulumi/pulumi"] = "^3.0.0"
    (program / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    messages = "\n".join(str(f) for f in validate_tree(broken, only={"pulumi"}))
    assert "TS2322" in messages
    assert "unknownKey is not a key Pulumi.yaml declares" in messages
    assert "@pulumi/pulumi ^3.0.0 is not an exact version" in messages


def test_a_stack_without_a_required_value_fails_under_mocks(generate, tmp_path):
    from harness import validate_tree

    project = _generate(generate, CASES[3])
    broken = tmp_path / "broken"
    shutil.copytree(project, broken, ignore=shutil.ignore_patterns("node_modules"))
    schema = broken / "pulumi" / "Pulumi.yaml"
    data = yaml.safe_load(schema.read_text())
    del data["config"]["region"]["default"]
    schema.write_text(yaml.safe_dump(data, sort_keys=False))
    messages = "\n".join(str(f) for f in validate_tree(broken, only={"pulumi"}))
    assert "region has no default in Pulumi.yaml and no value here" in messages
    assert "Missing required configuration variable" in messages
