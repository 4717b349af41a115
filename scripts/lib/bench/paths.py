"""Where things are: the repository, cargo's target directory, the module, the files the bench uses."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Cargo's target directory: CARGO_TARGET_DIR if set (relative to the repository, where the
# script runs cargo), else target/. The module is built there, and baselines under it.
TARGET = ROOT / (os.environ.get("CARGO_TARGET_DIR") or "target")
MODULE = TARGET / "release" / "libredis_gcra.so"
LUA = ROOT / "bench" / "gcra.lua"
FUNCTION = ROOT / "lua" / "gcra.lua"
SCRIPT = ROOT / "lua" / "gcra_script.lua"
SERVER_SH = ROOT / "scripts" / "lib" / "server.sh"
