"""Markdown tidying for rendered documents: Jinja leaves blank-line noise behind."""

from __future__ import annotations

import re

_HEADING = re.compile(r"^#{1,6} ")


def tidy_markdown(text: str) -> str:
    """One blank line between blocks and around headings, none doubled, one final newline."""
    out: list[str] = []
    in_fence = False
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("```"):
            in_fence = not in_fence
            if not in_fence:
                out.append(line)
                continue
        if in_fence:
            out.append(line)
            continue
        if _HEADING.match(line):
            while out and out[-1] == "":
                out.pop()
            if out:
                out.append("")
            out += [line, ""]
            continue
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
