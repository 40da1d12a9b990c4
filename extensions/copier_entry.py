"""Copier's entry point (see ``_jinja_extensions`` in copier.yml).

copier-template-extensions loads this file by path. It loads the ``extensions``
package under a name unique to this template checkout, so that ``copier update``
(which renders the old and the new template version in one process) never mixes
the two versions' modules.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_PACKAGE = "prodready_" + hashlib.sha1(str(_HERE).encode()).hexdigest()[:12]

if _PACKAGE not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_PACKAGE, _HERE / "__init__.py", submodule_search_locations=[str(_HERE)])
    assert _spec and _spec.loader
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_PACKAGE] = _module
    _spec.loader.exec_module(_module)

ProdreadyExtension = importlib.import_module(f"{_PACKAGE}.jinja_globals").ProdreadyExtension
