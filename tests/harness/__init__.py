"""Validation harness: run the real validator for every generated file it knows.

Each module in this package registers checks for the file types it owns
(``@check(name, *patterns)``). ``validate_tree(root)`` runs them all and returns
the findings; ``uncovered(root)`` lists generated files that no check knows.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import REGISTRY, Finding, check, uncovered, validate_tree

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"registry", "tools"}:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "Finding", "check", "uncovered", "validate_tree"]
