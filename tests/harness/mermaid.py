"""Every ```mermaid block of every generated Markdown file parses with mermaid (npm, in jsdom)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from .registry import Finding, check
from .tools import REPO, missing

NODE_DIR = REPO / ".ci" / "node"
BLOCK = re.compile(r"^```mermaid[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# Runs in .ci/node so that the bare imports resolve to the pinned packages; one process for all blocks.
PARSER = """
import { JSDOM } from "jsdom";
const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
let input = "";
for await (const chunk of process.stdin) input += chunk;
const errors = [];
for (const block of JSON.parse(input)) {
  try {
    await mermaid.parse(block.source);
  } catch (error) {
    errors.push({ ...block, error: String(error.message || error).split("\\n").slice(0, 4).join(" ") });
  }
}
console.log(JSON.stringify(errors));
"""


def mermaid_blocks(text: str) -> list[str]:
    return [match.group(1) for match in BLOCK.finditer(text)]


def parse_errors(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    """Mermaid's parse errors for ``[{file, index, source}]`` (empty when every block parses)."""
    if not (NODE_DIR / "node_modules" / "mermaid").is_dir():
        missing("mermaid")
    proc = subprocess.run(["node", "--input-type=module", "-e", PARSER], cwd=NODE_DIR, input=json.dumps(blocks),
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode:
        raise RuntimeError(f"mermaid parser crashed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@check("mermaid", "*.md")
def mermaid_diagrams(root: Path, files: list[Path]) -> list[Finding]:
    blocks = [{"file": path.relative_to(root).as_posix(), "index": n, "source": source}
              for path in files for n, source in enumerate(mermaid_blocks(path.read_text(encoding="utf-8")), 1)]
    if not blocks:
        return []
    return [Finding("mermaid", str(e["file"]), f"diagram {e['index']}: {e['error']}") for e in parse_errors(blocks)]
