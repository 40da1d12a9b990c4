"""prodready's Jinja extension package: the catalog, the recommendation engine and rules.

Copier loads it through ``copier_entry.py``; tests import it as ``extensions``.
"""
