"""AWS CDK (cdk/): every AWS deploy target type-checks, synthesizes with `cdk synth --strict` and passes cfn-lint.

The harness (tests/harness/iac_programs.py) synthesizes each environment's stack and a pr-1 preview stack offline;
these tests then read the CloudFormation templates to prove what the stacks contain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import answers_of, assert_valid, fit_previews, preset
from harness import uncovered
from harness.iac_programs import cdk_program

BASE = {"iac_tool": "aws_cdk", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager", "notifications": ["slack"]}
CASES: list[dict[str, Any]] = [
    {"deploy_target": "aws_ecs_fargate", "database": "postgresql", "cache": "redis", "has_worker": True, "cost_alerts": True,
     "environments": ["development", "staging", "production"]},
    {"deploy_target": "aws_app_runner", "database": "mysql", "cache": "redis", "has_worker": False, "cost_alerts": False,
     "ci_platform": "gitlab_ci", "environments": ["development", "qa", "staging", "production"]},
    {"deploy_target": "aws_lambda", "database": "mongodb", "cache": "none", "has_worker": False, "containerize": False,
     "app_language": "python", "cost_alerts": False, "environments": ["development", "staging", "demo", "production"]},
    {"deploy_target": "kubernetes", "k8s_distribution": "eks", "database": "postgresql", "cache": "none", "cost_alerts": True,
     "environments": ["development", "staging", "production"]},
]


def _id(case: dict[str, Any]) -> str:
    return str(case.get("k8s_distribution", case["deploy_target"]))


def _generate(generate, case: dict[str, Any]) -> Path:
    tier = "enterprise" if case["deploy_target"] == "kubernetes" else "production"
    return generate(**fit_previews({**preset(tier), **BASE, **case}))


def _templates(project: Path) -> dict[str, dict[str, Any]]:
    findings, templates = cdk_program(project)
    assert not findings, "\n".join(map(str, findings))
    return templates


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found = _resources(template, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cdk_app_type_checks_synthesizes_and_passes_cfn_lint(generate, case):
    project = _generate(generate, case)
    assert (project / "cdk" / "bin" / "app.ts").is_file()
    assert not (project / "terraform").exists(), "one IaC tool per project"
    assert not [f for f in uncovered(project) if f.startswith("cdk/")]
    assert_valid(project, only={"aws-cdk"})


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_one_stack_per_environment_except_development_plus_the_preview(generate, case):
    project = _generate(generate, case)
    slug = answers_of(project)["project_slug"]
    deployed = [env for env in case["environments"] if env != "development"]
    assert set(_templates(project)) == {f"{slug}-{env}" for env in deployed} | {f"{slug}-pr-1"}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_stacks_are_sized_and_protected_per_environment(generate, case):
    project = _generate(generate, case)
    slug = answers_of(project)["project_slug"]
    templates = _templates(project)
    production, staging, preview = (templates[f"{slug}-{env}"] for env in ("production", "staging", "pr-1"))
    # NAT gateways: one per zone in production, one elsewhere (terraform.tfvars single_nat_gateway).
    assert [len(_resources(t, "AWS::EC2::NatGateway")) for t in (production, staging, preview)] == [2, 1, 1]
    if case["database"] in ("postgresql", "mysql"):
        prod_db, staging_db, preview_db = (_one(t, "AWS::RDS::DBInstance") for t in (production, staging, preview))
        assert prod_db["Properties"]["DBInstanceClass"] == "db.r6g.large" and prod_db["Properties"]["MultiAZ"] is True
        assert staging_db["Properties"]["DBInstanceClass"] == "db.t4g.micro"
        assert prod_db["Properties"]["DeletionProtection"] is True and prod_db["DeletionPolicy"] == "Retain"
        assert staging_db["DeletionPolicy"] == "Snapshot"
        assert preview_db["DeletionPolicy"] == "Delete" and preview_db["Properties"]["DeletionProtection"] is False
        assert prod_db["Properties"]["StorageEncrypted"] is True
    if case["database"] == "mongodb":
        assert len(_resources(production, "AWS::DocDB::DBInstance")) == 2
        assert len(_resources(staging, "AWS::DocDB::DBInstance")) == 1
    if case["cache"] == "redis":
        cache = _one(production, "AWS::ElastiCache::ReplicationGroup")["Properties"]
        assert cache["CacheNodeType"] == "cache.r7g.large" and cache["TransitEncryptionEnabled"] is True
    if case["deploy_target"] == "aws_ecs_fargate":
        cpus = [{d["Properties"]["Cpu"] for d in _resources(t, "AWS::ECS::TaskDefinition")} for t in (production, staging, preview)]
        assert cpus == [{"1024"}, {"512"}, {"256"}]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_names_are_the_ones_the_deploy_scripts_use(generate, case):
    project = _generate(generate, case)
    slug = answers_of(project)["project_slug"]
    stack = _templates(project)[f"{slug}-staging"]
    name = f"{slug}-staging"
    target = case["deploy_target"]
    if target == "aws_ecs_fargate":
        assert _one(stack, "AWS::ECS::Cluster")["Properties"]["ClusterName"] == name
        services = {s["Properties"]["ServiceName"] for s in _resources(stack, "AWS::ECS::Service")}
        assert services == ({"web", "worker"} if case["has_worker"] else {"web"})
        listeners = {listener["Properties"]["Port"] for listener in _resources(stack, "AWS::ElasticLoadBalancingV2::Listener")}
        assert listeners == {80, 443}
        assert _one(stack, "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]["HealthCheckPath"] == "/health/ready"
        assert _resources(stack, "AWS::ApplicationAutoScaling::ScalingPolicy")
    elif target == "aws_app_runner":
        service = _one(stack, "AWS::AppRunner::Service")["Properties"]
        assert service["ServiceName"] == name
        assert service["HealthCheckConfiguration"]["Path"] == "/health/ready"
        assert service["NetworkConfiguration"]["EgressConfiguration"]["EgressType"] == "VPC"
    elif target == "aws_lambda":
        # (the other functions are aws-cdk-lib's custom-resource providers, e.g. the default security group's)
        assert [f["Properties"].get("FunctionName") for f in _resources(stack, "AWS::Lambda::Function")].count(name) == 1
        assert _one(stack, "AWS::Lambda::Alias")["Properties"]["Name"] == "live"
        assert {b["Properties"].get("BucketName") for b in _resources(stack, "AWS::S3::Bucket")} >= {f"{name}-artifacts"}
        assert _one(stack, "AWS::ApiGatewayV2::Api")["Properties"]["ProtocolType"] == "HTTP"
    else:
        cluster = _one(stack, "AWS::EKS::Cluster")["Properties"]
        assert cluster["Name"] == name and cluster["EncryptionConfig"][0]["Resources"] == ["secrets"]
        assert _one(stack, "AWS::EKS::Nodegroup")["Properties"]["NodegroupName"] == "app"
        association = _one(stack, "AWS::EKS::PodIdentityAssociation")["Properties"]
        assert association["Namespace"] == name and association["ServiceAccount"] == f"{slug}-secrets"
    assert "Url" in stack["Outputs"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_ci_identity_and_cost_alerts_belong_to_environments_not_previews(generate, case):
    project = _generate(generate, case)
    slug = answers_of(project)["project_slug"]
    templates = _templates(project)
    deployed = [env for env in case["environments"] if env != "development"]
    for env in deployed:
        stack = templates[f"{slug}-{env}"]
        assert "AwsDeployRoleArn" in stack["Outputs"], env
        # the read-only role of the pull-request plan jobs (tests/test_iac_program_plan_preview.py: its permissions)
        assert "AwsPlanRoleArn" in stack["Outputs"], env
        # The account-wide OIDC provider is created once, by the first deployed environment.
        assert len(_resources(stack, "AWS::IAM::OIDCProvider")) == (1 if env == deployed[0] else 0), env
        assert len(_resources(stack, "AWS::Budgets::Budget")) == (2 if case["cost_alerts"] else 0), env
    preview = templates[f"{slug}-pr-1"]
    assert not {"AwsDeployRoleArn", "AwsPlanRoleArn", "AwsPreviewRoleArn"} & set(preview.get("Outputs", {}))
    assert not _resources(preview, "AWS::Budgets::Budget")


def test_preview_and_deploy_commands_drive_the_cdk_app():
    from extensions.catalog import load_catalog

    facts = load_catalog().option("iac_tool", "aws_cdk").facts
    assert '-c stage="{name}"' in facts["preview_up"] and '-c image="$IMAGE"' in facts["preview_up"]
    assert 'cdk destroy --all -c stage="{name}" --force' in facts["preview_down"]
    assert all("--prefix cdk" in facts[key] for key in ("plan", "apply", "preview_up", "preview_down"))
