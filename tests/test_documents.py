"""Generated documents are filled from the answers: chosen values, no blanks, no Jinja."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import answers_of, assert_valid, preset

from extensions.catalog import load_catalog
from extensions.docs_model import project_from_answers

DOCS = ["docs/operations.md", "docs/decisions.md", "docs/costs.md", "specs/configuration.md", ".env.example"]
VARIANTS = {
    "mvp": preset("mvp"),
    "production": preset("production"),
    "enterprise": preset("enterprise"),
    "production-full-render": {"tier": "production", "mode": "full", "deploy_target": "render", "app_language": "python",
                                "database": "mysql", "feature_flags": "unleash", "secrets_manager": "doppler"},
    "enterprise-gcp-no-db": {"tier": "enterprise", "deploy_target": "gcp_cloud_run", "database": "none", "cache": "none",
                             "app_language": "go", "apm": "opentelemetry", "metrics": "prometheus_grafana",
                             "tracing": "tempo", "logging": "loki"},
    "mvp-express-lambda": {"tier": "mvp", "mode": "express", "deploy_target": "aws_lambda", "app_language": "java"},
}


def read(project: Path, name: str) -> str:
    return (project / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_documents_are_complete_and_valid(generate, variant: str) -> None:
    project = generate(**VARIANTS[variant])
    answers = answers_of(project)
    for name in DOCS:
        text = read(project, name)
        assert "{{" not in text and "{%" not in text, name
        assert not re.search(r"\bNone\b|\bUndefined\b", text), f"{name} shows an unset value"
    assert_valid(project, only={"yamllint", "pymarkdown", "dotenv", "gitignore"})
    catalog = load_catalog()
    operations = read(project, "docs/operations.md")
    assert catalog.option("deploy_target", answers["deploy_target"]).label in operations
    assert catalog.option("ci_platform", answers["ci_platform"]).label in operations
    assert f"RTO): **{answers['rto_minutes']} minutes**" in operations
    assert f"RPO): **{answers['rpo_minutes']} minutes**" in operations
    for env in answers["environments"]:
        assert catalog.option("environments", env).label in operations


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_decision_record_per_question(generate, variant: str) -> None:
    project = generate(**VARIANTS[variant])
    answers = answers_of(project)
    decisions = read(project, "docs/decisions.md")
    recorded = set(re.findall(r"^### (\w+)$", decisions, re.M))
    expected = set(answers) - {"project_name", "project_slug", "domain", "repository", "mode"}
    assert expected <= recorded, f"missing decision records: {expected - recorded}"
    assert "- Chosen: **" in decisions and "- Why: " in decisions and "- Alternatives considered:" in decisions


def test_override_and_suggestion_are_recorded(generate) -> None:
    project = generate(tier="production", mode="full", deploy_target="gcp_cloud_run", feature_flags="none")
    decisions = read(project, "docs/decisions.md")
    record = decisions.split("### feature_flags", 1)[1].split("###", 1)[0]
    assert "overrides the production recommendation: PostHog" in record
    assert "You chose canary; we recommend feature flags" in decisions


def test_costs_add_up_to_the_total(generate) -> None:
    for tier in ("mvp", "production", "enterprise"):
        project = generate(**preset(tier))
        costs = read(project, "docs/costs.md").split("## Service inventory", 1)[1].split("\n## ", 1)[0]
        rows = re.findall(r"^\| \w+ \| [^|]+ \| \$([\d,]+) \|", costs, re.M)
        total = re.search(r"\| \*\*Total\*\* \| \| \*\*\$([\d,]+)\*\*", costs)
        assert total and rows
        assert sum(int(r.replace(",", "")) for r in rows) == pytest.approx(int(total.group(1).replace(",", "")), abs=len(rows))


@pytest.mark.parametrize(("tier", "low", "high"), [("mvp", 0, 50), ("production", 500, 2000), ("enterprise", 5000, 20000)])
def test_estimate_falls_in_seed_000_range(tier: str, low: int, high: int) -> None:
    model = project_from_answers(load_catalog(), {**preset(tier), "project_name": "Acme"})
    assert low <= model.total_monthly_usd <= high


def test_env_files_per_environment_and_secrets_empty(generate) -> None:
    project = generate(**preset("enterprise"))
    model = project_from_answers(load_catalog(), answers_of(project))
    secrets = [v.name for v in model.variables if v.secret]
    assert secrets, "the enterprise stack has secrets"
    for env in ("development", "qa", "staging", "demo", "production"):
        text = read(project, f".env.{env}")
        assert f"APP_ENV={env}" in text
        if env != "development":
            for name in secrets:
                assert re.search(rf"^{name}=$", text, re.M), f"{name} must stay empty in .env.{env}"
    example = read(project, ".env.example")
    for variable in model.variables:
        assert re.search(rf"^{variable.name}=", example, re.M)
    configuration = read(project, "specs/configuration.md")
    assert "AWS Secrets Manager `my-app/<environment>` key `DATABASE_URL`" in configuration
    assert not (project / ".env.preview").exists()


def test_only_chosen_environments_get_env_files(generate) -> None:
    project = generate(**preset("mvp"))
    assert sorted(p.name for p in project.glob(".env.*")) == [".env.development", ".env.example", ".env.production"]


def test_message_after_copy_has_suggestions(copier_template: Path, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "-d", "tier=production", "-d", "deploy_target=gcp_cloud_run",
            "-d", "feature_flags=none", "-d", "uptime=none", "--skip-tasks", str(copier_template), str(tmp_path / "shop")]
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True, timeout=120)
    output = result.stdout + result.stderr
    assert "prodready generated the production operations scaffold for shop" in output
    assert "we recommend feature flags" in output and "No uptime monitoring" in output
