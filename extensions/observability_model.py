"""Derived values for the observability templates (owned by the observability work).

Add pass_context functions or plain helpers to GLOBALS; jinja_globals registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GLOBALS: dict[str, Callable[..., Any]] = {}
