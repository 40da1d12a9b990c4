"""The post-generation task formats, lints, protects .gitignore and never fails generation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
from conftest import ROOT

HOOK = ROOT / "hooks" / "post_generate.py"


def run_hook(cwd: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, str(HOOK)], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120)


def test_missing_tools_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "null_resource" "x" {\n}\n', encoding="utf-8")
    (tmp_path / "a.yml").write_text("a: 1\n", encoding="utf-8")
    result = run_hook(tmp_path, path="/nonexistent")
    assert result.returncode == 0, result.stderr
    assert "terraform fmt: skipped (neither terraform nor tofu is installed)" in result.stdout
    assert "yamllint: skipped" in result.stdout


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_is_formatted(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    tf = tmp_path / "infra" / "main.tf"
    tf.write_text('variable "region" {\ndefault="us-east-1"\n}\n', encoding="utf-8")
    result = run_hook(tmp_path)
    assert "terraform fmt: 1 file(s) reformatted" in result.stdout
    check = subprocess.run(["terraform", "fmt", "-check", "-recursive", str(tmp_path)], capture_output=True, check=False,
                           env={**os.environ, "CHECKPOINT_DISABLE": "1"})
    assert check.returncode == 0


def test_yaml_errors_are_listed(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("a: 1\na: 2\n", encoding="utf-8")
    result = run_hook(tmp_path)
    assert result.returncode == 0
    assert "yamllint: 1 error(s) in 1 file(s)" in result.stdout
    assert "duplication of key" in result.stdout


def test_generation_into_an_existing_repository(copier_template: Path, tmp_path: Path) -> None:
    repo = tmp_path / "existing"
    repo.mkdir()
    (repo / ".gitignore").write_text("/build\n*.log\n", encoding="utf-8")
    (repo / "app.py").write_text("print('hi')\n", encoding="utf-8")
    copier.run_copy(str(copier_template), repo, data={"tier": "mvp"}, defaults=True, unsafe=True, quiet=True)
    ignore = (repo / ".gitignore").read_text(encoding="utf-8")
    assert ignore.startswith("/build\n*.log\n"), "the user's .gitignore is kept"
    assert ".env.*" in ignore and "!.env.example" in ignore and "*.tfstate" in ignore
    assert (repo / "app.py").read_text(encoding="utf-8") == "print('hi')\n"
    assert (repo / "docs" / "operations.md").is_file()
