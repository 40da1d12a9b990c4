"""`copier update` keeps users' edits and recorded answers (doodba-copier-template style)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml
from conftest import ROOT, TEMPLATE_PATHS, answers_of


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """A template repository with two releases: 1.0.0 (as is) and 1.1.0 (a wording change)."""
    src = tmp_path / "template-repo"
    src.mkdir()
    for name in TEMPLATE_PATHS:
        path = ROOT / name
        (shutil.copytree if path.is_dir() else shutil.copy)(path, src / name)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-qm", "release 1.0.0")
    git(src, "tag", "1.0.0")
    costs = src / "template" / "docs" / "costs.md.jinja"
    costs.write_text(costs.read_text(encoding="utf-8").replace("## Saving money", "## Saving money (reviewed)"), encoding="utf-8")
    git(src, "commit", "-qam", "release 1.1.0")
    git(src, "tag", "1.1.0")
    return src


def generate_project(template: Path, dst: Path, **data: object) -> None:
    copier.run_copy(str(template), dst, data=data, defaults=True, unsafe=True, quiet=True, vcs_ref="1.0.0", skip_tasks=True)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "generated")


def update(project: Path, **data: object) -> None:
    copier.run_update(str(project), data=data, defaults=True, unsafe=True, quiet=True, overwrite=True, skip_tasks=True)


def test_update_keeps_user_edits_and_applies_template_changes(versions: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    generate_project(versions, project, tier="production")
    operations = project / "docs" / "operations.md"
    operations.write_text(operations.read_text(encoding="utf-8") + "\n## Team notes\n\nPage Alice first.\n", encoding="utf-8")
    git(project, "commit", "-qam", "our notes")

    update(project)

    assert "Page Alice first." in operations.read_text(encoding="utf-8")
    assert "## Saving money (reviewed)" in (project / "docs" / "costs.md").read_text(encoding="utf-8")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))["_commit"] == "1.1.0"


def test_update_keeps_recorded_answers_of_express_mode(versions: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    generate_project(versions, project, tier="production", mode="express")
    before = answers_of(project)
    update(project)
    assert answers_of(project) == before, "recorded answers are kept, not re-recommended"
    git(project, "add", "-A")
    git(project, "commit", "-qm", "updated")

    update(project, rto_minutes=90)  # change an answer express mode never asked

    after = answers_of(project)
    assert after["rto_minutes"] == 90
    assert {k: v for k, v in after.items() if k != "rto_minutes"} == {k: v for k, v in before.items() if k != "rto_minutes"}
    assert "RTO): **90 minutes**" in (project / "docs" / "operations.md").read_text(encoding="utf-8")


def test_update_with_a_changed_answer_regenerates(versions: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    generate_project(versions, project, tier="production", mode="express")
    update(project, environments=["development", "staging", "qa", "production"])
    assert (project / ".env.qa").is_file()
    assert "QA" in (project / "docs" / "operations.md").read_text(encoding="utf-8")


def test_filled_env_file_survives_update(versions: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    generate_project(versions, project, tier="mvp")
    env = project / ".env.production"
    env.write_text(env.read_text(encoding="utf-8") + "\nEXTRA_SETTING=kept\n", encoding="utf-8")
    update(project)
    assert "EXTRA_SETTING=kept" in env.read_text(encoding="utf-8")
    assert answers_of(project)["tier"] == "mvp"
