"""Shell scripts: bash -n for syntax, shellcheck for correctness."""

from __future__ import annotations

from pathlib import Path

from .registry import Finding, check
from .tools import run, tool


@check("shell", "*.sh")
def shell_scripts(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        code, out = run(["bash", "-n", str(path)])
        if code:
            found.append(Finding("bash -n", path.relative_to(root).as_posix(), out))
    code, out = run([tool("shellcheck"), "--severity=style", "--external-sources", *map(str, files)], cwd=root)
    if code:
        found.append(Finding("shellcheck", "", out))
    return found
