"""The pure core's benchmark (`cargo bench -p gcra-core`) as a markdown table."""

import subprocess

from .paths import ROOT


def core_benchmark():
    """The pure core's ns per decision, from `cargo bench -p gcra-core` (core/benches/core.rs)."""
    out = subprocess.run(["cargo", "bench", "--quiet", "--locked", "-p", "gcra-core", "--bench", "core"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    rows = [line.rsplit(None, 2) for line in out.stdout.splitlines() if line.endswith(" ns")]
    lines = ["", "The pure GCRA core alone (`cargo bench -p gcra-core`), best of 5:", "",
             "| operation | ns per call |", "|---|---|"]
    lines += [f"| {name.strip()} | {value} |" for name, value, _ in rows]
    return "\n".join(lines) + "\n"
