"""Write presets/<tier>.yml: each tier's recommendations as an express-mode answer file.

The catalog is the single source; presets are derived from it. Regenerate with
``python -m extensions.presets`` (a test fails when a preset drifts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .catalog import TEMPLATE_ROOT, TIERS, Catalog, load_catalog
from .questionnaire import applicable
from .recommend import effective_answers

PER_PROJECT = ("project_name", "project_slug", "domain", "repository", "cloud_provider")


def preset_answers(catalog: Catalog, tier: str) -> dict[str, Any]:
    answers = effective_answers(catalog, {"tier": tier, "mode": "express", "project_name": "my-app"})
    relevant = applicable(catalog, answers)
    return {k: v for k, v in answers.items() if k in relevant and k not in PER_PROJECT}


def render_preset(catalog: Catalog, tier: str) -> str:
    header = (
        f"# prodready express preset: seed 000 \"Recommendations by Tier\" for {tier}.\n"
        "# Generated from extensions/catalog by `python -m extensions.presets`; do not edit by hand.\n"
        f"# Use: copier copy --trust --defaults --data-file presets/{tier}.yml <template> my-app\n"
    )
    return header + yaml.safe_dump(preset_answers(catalog, tier), sort_keys=False, default_flow_style=False)


def write_presets(root: Path = TEMPLATE_ROOT) -> None:
    catalog = load_catalog(root)
    for tier in TIERS:
        (root / "presets" / f"{tier}.yml").write_text(render_preset(catalog, tier), encoding="utf-8")


if __name__ == "__main__":
    write_presets()
