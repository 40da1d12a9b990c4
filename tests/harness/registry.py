"""The registry of checks and the tree walker."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

IGNORED_PARTS = {".git"}


@dataclass(frozen=True)
class Finding:
    check: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.path}: {self.message}"


CheckFn = Callable[[Path, list[Path]], list[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    patterns: tuple[str, ...]
    run: CheckFn
    excludes: tuple[str, ...] = ()

    def matches(self, relative: str) -> bool:
        if any(fnmatch.fnmatch(relative, p) for p in self.excludes):
            return False
        return any(fnmatch.fnmatch(relative, p) for p in self.patterns)


REGISTRY: list[Check] = []


def check(name: str, *patterns: str, exclude: tuple[str, ...] = ()) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(root, files) -> findings`` for files matching any pattern.

    Patterns are fnmatch patterns on the POSIX path relative to the project root
    (``*`` also matches ``/``): ``*.yml`` is every YAML file at any depth.
    """

    def register(fn: CheckFn) -> CheckFn:
        REGISTRY.append(Check(name, patterns, fn, exclude))
        return fn

    return register


def generated_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not IGNORED_PARTS & set(p.relative_to(root).parts)
    )


def validate_tree(root: Path, only: set[str] | None = None, files: list[str] | None = None) -> list[Finding]:
    """Run every registered check (or the named ones) on the files it owns (all generated files, or ``files``)."""
    files = generated_files(root) if files is None else files
    findings: list[Finding] = []
    for item in REGISTRY:
        if only is not None and item.name not in only:
            continue
        mine = [root / f for f in files if item.matches(f)]
        if mine:
            findings.extend(item.run(root, mine))
    return findings


def uncovered(root: Path) -> list[str]:
    """Generated files that no registered check validates."""
    return [f for f in generated_files(root) if not any(c.matches(f) for c in REGISTRY)]
