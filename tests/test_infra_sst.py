"""SST (sst/): sst.config.ts type-checks (strict) against SST's real component sources, per target and data mix.

What is and is not proven offline is in README.md ("SST"): the types of every sst.aws.* component and Pulumi AWS
resource the program uses are checked; what `sst deploy` would create is not (it needs the Pulumi engine).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_valid, fit_previews, preset
from harness import uncovered
from harness.iac_programs import sst_program

BASE = {"iac_tool": "sst", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager", "notifications": ["slack"]}
CASES: list[dict[str, Any]] = [
    {"deploy_target": "aws_ecs_fargate", "database": "postgresql", "cache": "redis", "has_worker": True, "cost_alerts": True,
     "environments": ["development", "staging", "production"]},
    {"deploy_target": "aws_ecs_fargate", "database": "mysql", "cache": "none", "has_worker": False, "cost_alerts": False,
     "ci_platform": "gitlab_ci", "environments": ["development", "qa", "staging", "production"]},
    {"deploy_target": "aws_lambda", "database": "mongodb", "cache": "redis", "has_worker": False, "containerize": False,
     "app_language": "python", "cost_alerts": False, "environments": ["development", "staging", "production"]},
]


def _id(case: dict[str, Any]) -> str:
    return f"{case['deploy_target']}-{case['database']}"


def _generate(generate, case: dict[str, Any]) -> Path:
    return generate(**fit_previews({**preset("production"), **BASE, **case}))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_sst_config_type_checks_against_the_sst_platform(generate, case):
    project = _generate(generate, case)
    assert sorted(p.name for p in (project / "sst").iterdir()) == [".gitignore", "package.json", "sst.config.ts", "tsconfig.json"]
    assert not (project / "terraform").exists() and not (project / "cdk").exists()
    assert not [f for f in uncovered(project) if f.startswith("sst/")]
    assert_valid(project, only={"sst"})


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_stages_are_the_environments_and_production_is_protected(generate, case):
    config = (_generate(generate, case) / "sst" / "sst.config.ts").read_text(encoding="utf-8")
    assert 'removal: input?.stage === "production" ? "retain" : "remove"' in config
    assert 'protect: input?.stage === "production"' in config
    for env in case["environments"]:
        assert (f"  {env}: {{ host:" in config) == (env != "development"), env
    assert "^pr-[0-9]+$" in config, "pull-request previews are pr-<number> stages"
    assert ('new sst.aws.Service("Worker"' in config) == (case["has_worker"] and case["deploy_target"] == "aws_ecs_fargate")
    component = {"postgresql": "sst.aws.Postgres", "mysql": "sst.aws.Mysql", "mongodb": "aws.docdb.Cluster"}[case["database"]]
    assert component in config
    assert ('new sst.aws.Redis("Cache"' in config) == (case["cache"] == "redis")
    if case["deploy_target"] == "aws_lambda":
        assert "new sst.aws.Function(" in config and "new sst.aws.ApiGatewayV2(" in config
    else:
        assert "new sst.aws.Cluster(" in config and 'args.name = "web"' in config


def test_the_type_check_catches_a_wrong_component_argument(generate, tmp_path):
    """The check is not vacuous: an invalid sst.aws.Service cpu is a finding."""
    project = _generate(generate, CASES[0])
    broken = tmp_path / "project"
    shutil.copytree(project, broken)
    config = broken / "sst" / "sst.config.ts"
    config.write_text(config.read_text(encoding="utf-8").replace("cpu: size.cpu,", 'cpu: "3 vCPU",'), encoding="utf-8")
    findings = sst_program(broken)
    assert any(f.check == "tsc" and "sst.config.ts" in f.message for f in findings), findings


def test_preview_and_deploy_commands_run_in_the_sst_directory():
    from extensions.catalog import load_catalog

    facts = load_catalog().option("iac_tool", "sst").facts
    assert 'sst deploy --stage "{name}"' in facts["preview_up"]
    assert 'sst remove --stage "{name}"' in facts["preview_down"]
    assert all("--prefix sst" in facts[key] and "cd sst" in facts[key] for key in ("plan", "apply", "preview_up", "preview_down"))
