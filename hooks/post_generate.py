"""Post-generation task (copier.yml `_tasks`): format, lint and summarise the output.

Runs in the generated project's directory with Copier's own Python (plumbum is a
Copier dependency). Every step is optional: a missing tool is reported in one line
and generation still succeeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from plumbum import local
from plumbum.commands.processes import CommandNotFound, ProcessExecutionError

GITIGNORE_BLOCK = [".env", ".env.*", "!.env.example", "*.tfstate", "*.tfstate.*", ".terraform/"]
SKIP_DIRS = {".git", "node_modules", ".terraform"}


def _files(root: Path, *suffixes: str) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes and not SKIP_DIRS & set(p.parts))


def format_terraform(root: Path) -> str:
    if not _files(root, ".tf"):
        return "terraform fmt: no Terraform files"
    for binary in ("terraform", "tofu"):
        try:
            fmt = local[binary]
        except CommandNotFound:
            continue
        with local.env(CHECKPOINT_DISABLE="1"):
            changed = fmt("fmt", "-recursive", "-list=true", str(root)).split()
        return f"{binary} fmt: {len(changed)} file(s) reformatted"
    return "terraform fmt: skipped (neither terraform nor tofu is installed)"


def lint_yaml(root: Path) -> str:
    files = [str(p) for p in _files(root, ".yml", ".yaml") if "templates" not in p.parts]
    if not files:
        return "yamllint: no YAML files"
    try:
        yamllint = local["yamllint"]
    except CommandNotFound:
        return "yamllint: skipped (pip install yamllint to lint generated YAML)"
    config = "{extends: relaxed, rules: {line-length: disable}}"
    code, out, _ = yamllint["-f", "parsable", "-d", config, *files].run(retcode=None)
    problems = [line for line in out.splitlines() if "[error]" in line]
    for line in problems:
        print(f"  {line}")
    return f"yamllint: {len(problems)} error(s) in {len(files)} file(s)" + ("" if code == 0 else " (see above)")


def ensure_gitignore(root: Path) -> str:
    """An existing .gitignore is kept (copier skips it); make sure it ignores secrets."""
    path = root / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    missing = [entry for entry in GITIGNORE_BLOCK if entry not in lines]
    if missing:
        block = ["", "# --- prodready: secrets and infrastructure state ---", *missing]
        path.write_text("\n".join([*lines, *block]) + "\n", encoding="utf-8")
        return f".gitignore: added {', '.join(missing)}"
    return ".gitignore: secrets and state are ignored"


def main() -> int:
    root = Path.cwd()
    print("prodready post-generation:")
    for step in (ensure_gitignore, format_terraform, lint_yaml):
        try:
            print(f"  - {step(root)}")
        except ProcessExecutionError as error:
            print(f"  - {step.__name__}: failed ({error.stderr.strip().splitlines()[-1] if error.stderr.strip() else error.retcode})")
    total = sum(1 for p in root.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.parts))
    print(f"  - {total} files in {root.name}; start with docs/operations.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
