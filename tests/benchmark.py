"""Benchmark: generation time per file above Copier's own start-up.

Copier's start-up is measured by copying a one-file, one-question template in a fresh
interpreter; prodready's time is the same command on each preset. The difference,
divided by the number of generated files, is the time per file above start-up.
Copier's own per-file handling (it writes each file and calls git once per file) is
measured with a template of 100 trivial files, so the last column is what prodready's
questionnaire, extensions and templates add on top of Copier.

    python tests/benchmark.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_copy(template: Path, data_file: Path | None, runs: int) -> tuple[float, int]:
    """Median wall time of `copier copy` in a fresh interpreter, and the files it generated."""
    times: list[float] = []
    files = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            dst = Path(scratch) / "bench-app"
            args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet", "--skip-tasks"]
            if data_file:
                args += ["--data-file", str(data_file)]
            start = time.perf_counter()
            subprocess.run([*args, str(template), str(dst)], check=True, stdin=subprocess.DEVNULL, capture_output=True)
            times.append(time.perf_counter() - start)
            files = sum(1 for p in dst.rglob("*") if p.is_file())
    return statistics.median(times), files


def baseline_template(scratch: Path, files: int = 1) -> Path:
    template = scratch / f"baseline-{files}"
    template.mkdir()
    (template / "copier.yml").write_text("name:\n  type: str\n  default: bench\n", encoding="utf-8")
    for number in range(files):
        (template / f"file{number}.md.jinja").write_text(f"# {{{{ name }}}} {number}\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=template, check=True)
    subprocess.run(["git", "add", "-A"], cwd=template, check=True)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"], cwd=template, check=True)
    return template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        base, _ = timed_copy(baseline_template(Path(scratch)), None, runs)
        hundred, _ = timed_copy(baseline_template(Path(scratch), 100), None, runs)
        floor = (hundred - base) / 99 * 1000
        print(f"Copier start-up (one-file template): {base * 1000:.0f} ms; Copier's own cost per file: {floor:.1f} ms")
        for tier in ("mvp", "production", "enterprise"):
            total, files = timed_copy(ROOT, ROOT / "presets" / f"{tier}.yml", runs)
            per_file = (total - base) / files * 1000
            print(f"{tier:11s} {total * 1000:6.0f} ms for {files:3d} files: {per_file:5.1f} ms per file above start-up, "
                  f"{per_file - floor:5.1f} ms above Copier's own per-file cost")


if __name__ == "__main__":
    main()
