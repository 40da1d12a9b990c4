"""Finding and running the external validators."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
# pip's scripts, then the npm packages and extra venvs that .ci/install.d/*.sh install
BIN_DIRS = [Path(sys.executable).parent, Path(sys.prefix) / "bin", REPO / ".ci" / "node" / "node_modules" / ".bin",
            REPO / ".ci" / "node-iac" / "node_modules" / ".bin"]
BIN_DIRS += sorted((REPO / ".ci" / "venvs").glob("*/bin"))


def tool(name: str) -> str:
    """Absolute path of an installed tool: a missing one skips the test locally and fails it in CI."""
    for directory in BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        missing(name)
    return found


def missing(name: str) -> NoReturn:
    """A validator is not installed: skip the test locally, fail it in CI."""
    message = f"validator '{name}' is not installed: run .ci/run (it installs every validator)"
    if os.environ.get("CI"):
        raise FileNotFoundError(message)
    pytest.skip(message)


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 600) -> tuple[int, str]:
    """Run a validator; return its exit code and combined output."""
    full_env = {**os.environ, "NO_COLOR": "1", "CHECKPOINT_DISABLE": "1", **(env or {})}
    proc = subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc.returncode, (proc.stdout + proc.stderr).strip()
