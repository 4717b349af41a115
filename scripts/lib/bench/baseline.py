"""Baseline builds: this module built at another git revision (git archive), cached by commit."""

import os
import re
import shutil
import subprocess
import sys

from .paths import ROOT, TARGET


def build_command(src):
    """cargo build of the module alone in an unpacked revision: with `-p redis-gcra` where the
    revision is a workspace (the module and gcra-core, maybe more), as is where it is the single
    package it was before the workspace."""
    command = ["cargo", "build", "--release", "--locked", "--quiet"]
    if re.search(r"^\s*\[workspace\]", (src / "Cargo.toml").read_text(), re.MULTILINE):
        command += ["-p", "redis-gcra"]
    return command


def build_baseline(rev):
    """Builds this module at a git revision (git archive, no worktree) and returns the .so.
    It is unpacked under the target directory, which the workspace excludes: a crate (or a
    workspace) of its own."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT,
                         capture_output=True, text=True)
    if sha.returncode != 0:
        sys.exit(f"--baseline-rev {rev}: not a commit")
    sha = sha.stdout.strip()
    home = TARGET / "bench-baseline"
    so = home / f"libredis_gcra-{sha[:12]}.so"
    if not so.exists():
        src = home / f"src-{sha[:12]}"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        print(f"building the baseline at {rev} ({sha[:12]})", file=sys.stderr)
        subprocess.run(build_command(src), cwd=src, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=str(home / "target")))
        shutil.copy(home / "target" / "release" / "libredis_gcra.so", so)
        shutil.rmtree(src, ignore_errors=True)
    return so, f"{rev} ({sha[:12]})"
