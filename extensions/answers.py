"""Answer values: casting raw input, computed answers, and the effective answer set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from .catalog import Catalog

CONTAINER_TARGET_IMAGES = ("required",)


class CastError(ValueError):
    """An answer that cannot be read as the question's type."""


def cast(catalog: Catalog, name: str, value: Any) -> Any:
    """Read a raw answer (from --data, a data file or a prompt) as its question's type."""
    question = catalog[name]
    if question.multiselect:
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise CastError(f"expected a list, got {value!r}")
        return [str(v) for v in value]
    kind = question.type
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"true", "yes", "y", "on", "1"}:
                return True
            if text in {"false", "no", "n", "off", "0"}:
                return False
            raise CastError(f"expected true or false, got {value!r}")
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise CastError(f"expected a whole number, got {value!r}")
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise CastError(f"expected a number, got {value!r}")
            return float(value)
        if kind == "yaml":
            return yaml.safe_load(value) if isinstance(value, str) else value
    except (TypeError, ValueError) as error:
        if isinstance(error, CastError):
            raise
        raise CastError(f"expected a {kind}, got {value!r}") from error
    return str(value)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"app-{slug}".strip("-")
    slug = slug[:40].rstrip("-")
    return slug if len(slug) >= 3 else f"{slug}-app"


def cloud_provider(catalog: Catalog, answers: Mapping[str, Any]) -> str:
    """The hyperscaler implied by the deployment target (or the K8s distribution)."""
    target = answers.get("deploy_target")
    cloud = catalog.fact("deploy_target", target, "cloud", "none")
    if cloud == "from_distribution":
        cloud = catalog.fact("k8s_distribution", answers.get("k8s_distribution", "eks"), "cloud", "none")
    return cloud or "none"


def is_container_target(catalog: Catalog, answers: Mapping[str, Any]) -> bool:
    return catalog.fact("deploy_target", answers.get("deploy_target"), "image") in CONTAINER_TARGET_IMAGES


def known_answers(catalog: Catalog, context: Mapping[str, Any]) -> dict[str, Any]:
    """The questionnaire answers present in a Jinja/Copier context."""
    return {name: context[name] for name in catalog.names() if name in context and not _undefined(context[name])}


def _undefined(value: Any) -> bool:
    return type(value).__name__.endswith("Undefined")
