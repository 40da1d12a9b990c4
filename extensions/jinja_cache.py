"""Compile each Jinja source once.

Copier compiles every templated question attribute and every templated path each time
it renders one (about 1,900 compilations of a few hundred distinct strings per run),
and compiles every template file on every run. Both are pure functions of the source:
``from_string`` is memoized per environment, and template files use a bytecode cache
keyed by template name and source checksum (not by the random clone path), so
repeated generations (``copier update``, CI, tests) skip compilation.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, Template
from jinja2.bccache import FileSystemBytecodeCache

CACHE_DIR = Path(os.environ.get("PRODREADY_CACHE_DIR") or Path(tempfile.gettempdir()) / f"prodready-jinja-{os.getuid()}")


class PathIndependentBytecodeCache(FileSystemBytecodeCache):
    """Keys on the template name only; Jinja still checks the source checksum on load."""

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(name)


def memoize_from_string(environment: Environment) -> None:
    """One compilation per distinct source: in memory for this run, on disk across runs."""
    compiled: dict[str, Template] = {}
    original = environment.from_string

    def from_string(source: Any, globals: Any = None, template_class: Any = None) -> Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return original(source, globals, template_class)
        template = compiled.get(source)
        if template is None:
            template = compiled[source] = _compile_cached(environment, source) or original(source)
        return template

    environment.from_string = from_string  # type: ignore[method-assign]


def _compile_cached(environment: Environment, source: str) -> Template | None:
    """Load a string template's code from the bytecode cache (compiling it on a miss)."""
    cache = environment.bytecode_cache
    if cache is None:
        return None
    name = "<string>:" + hashlib.sha1(source.encode("utf-8")).hexdigest()
    bucket = cache.get_bucket(environment, name, None, source)
    if bucket.code is None:
        bucket.code = environment.compile(source, name)
        cache.set_bucket(bucket)
    return environment.template_class.from_code(environment, bucket.code, environment.make_globals(None))


def enable_bytecode_cache(environment: Environment) -> None:
    if environment.bytecode_cache is not None:
        return
    try:
        CACHE_DIR.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return  # no writable temp dir: compile every time
    environment.bytecode_cache = PathIndependentBytecodeCache(str(CACHE_DIR))
