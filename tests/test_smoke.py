"""Every preset generates, and the harness accepts everything generated."""

from __future__ import annotations

import pytest
from conftest import assert_valid, preset


@pytest.mark.parametrize("tier", ["mvp", "production", "enterprise"])
def test_preset_generates_valid_project(generate, tier: str) -> None:
    project = generate(**preset(tier))
    assert (project / ".copier-answers.yml").is_file()
    assert_valid(project)
