"""Checks for the foundation's files: YAML, Markdown, .env files, .gitignore."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .registry import Finding, check
from .tools import run, tool

HERE = Path(__file__).resolve().parent
UNRENDERED = re.compile(r"\{\{|\{%|%\}|\}\}")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
LINK = re.compile(r"\]\(([^)\s]+)\)")
ENV_LINE = re.compile(r"^[A-Z][A-Z0-9_]*=(\"[^\"]*\"|'[^']*'|[^\s\"'#]*)$")


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


@check("yamllint", "*.yml", "*.yaml", exclude=("*/templates/*",))
def yaml_lint(root: Path, files: list[Path]) -> list[Finding]:
    code, out = run([tool("yamllint"), "-f", "parsable", "-c", str(HERE / "yamllint.yml"), *map(str, files)], cwd=root)
    if code == 0:
        return []
    return [Finding("yamllint", line.split(":", 1)[0], line) for line in out.splitlines() if line.strip()]


@check("pymarkdown", "*.md")
def markdown_lint(root: Path, files: list[Path]) -> list[Finding]:
    # MD013 line length and MD024 duplicate headings (one per runbook step) are style, not structure.
    code, out = run([tool("pymarkdown"), "-d", "md013,md024,md033", "scan", *map(str, files)], cwd=root)
    findings = [Finding("pymarkdown", line.split(":", 1)[0], line) for line in out.splitlines() if line.strip()] if code else []
    return findings + [f for path in files for f in _markdown_structure(root, path)]


def _markdown_structure(root: Path, path: Path) -> list[Finding]:
    """No unrendered Jinja, no empty section, balanced code fences, no broken relative link."""
    rel = _rel(root, path)
    text = path.read_text(encoding="utf-8")
    found: list[Finding] = []
    if UNRENDERED.search(text.replace("${{", "")):
        found.append(Finding("markdown-structure", rel, "contains unrendered Jinja"))
    if text.count("```") % 2:
        found.append(Finding("markdown-structure", rel, "unbalanced code fence"))
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:|^#", target):
            continue
        if not (path.parent / target.split("#", 1)[0]).exists():
            found.append(Finding("markdown-structure", rel, f"broken link to {target}"))
    lines = text.splitlines()
    headings = [(i, len(m.group(1)), m.group(2)) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    in_fence = False
    fence_lines = set()
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_fence = not in_fence
        if in_fence:
            fence_lines.add(i)
    headings = [h for h in headings if h[0] not in fence_lines]
    for n, (index, level, title) in enumerate(headings):
        end = len(lines)
        for later_index, later_level, _ in headings[n + 1 :]:
            if later_level <= level:
                end = later_index
                break
        body = [line for line in lines[index + 1 : end] if line.strip()]
        if not body:
            found.append(Finding("markdown-structure", rel, f"section '{title}' is empty"))
    return found


@check("dotenv", ".env.example", ".env.*", exclude=("*.md",))
def dotenv(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    code, out = run([tool("dotenv-linter"), *map(str, files)], cwd=root)
    if code:
        found.append(Finding("dotenv-linter", "", out))
    for path in files:
        seen: set[str] = set()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            if not ENV_LINE.match(line):
                found.append(Finding("dotenv", _rel(root, path), f"line {number} is not KEY=value: {line!r}"))
                continue
            key = line.split("=", 1)[0]
            if key in seen:
                found.append(Finding("dotenv", _rel(root, path), f"duplicate key {key}"))
            seen.add(key)
            if UNRENDERED.search(line):
                found.append(Finding("dotenv", _rel(root, path), f"unrendered Jinja in {key}"))
    return found


@check("gitignore", ".gitignore")
def gitignore(root: Path, files: list[Path]) -> list[Finding]:
    """git itself must ignore every .env.<environment> and keep .env.example."""
    found: list[Finding] = []
    envs = [p.name for p in root.glob(".env.*") if p.name != ".env.example"] + [".env", ".env.local"]
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(root / ".gitignore", Path(scratch) / ".gitignore")
        subprocess.run(["git", "init", "-q"], cwd=scratch, check=True)
        for name in envs:
            proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=scratch, check=False)
            if proc.returncode != 0:
                found.append(Finding("gitignore", ".gitignore", f"{name} is not ignored by git"))
        proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", ".env.example"], cwd=scratch, check=False)
        if proc.returncode == 0:
            found.append(Finding("gitignore", ".gitignore", ".env.example must be committed, but git ignores it"))
    return found
