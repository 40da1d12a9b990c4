"""Derived values for the infra templates (owned by the infra work).

Add pass_context functions or plain helpers to GLOBALS; jinja_globals registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GLOBALS: dict[str, Callable[..., Any]] = {}
