"""Servers: binaries, free ports, CPU pinning, throwaway servers (and replicas) started and stopped."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .paths import ROOT, SERVER_SH

# The cores the servers and the clients (redis-benchmark; --storm: the script and its prober)
# are pinned to, as taskset lists; "" for any. Set by cli.main.
CPUS = {"server": "", "client": ""}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpus, argv):
    return ["taskset", "-c", cpus, *argv] if cpus else argv


class Server:
    """A throwaway server on loopback, started and stopped by scripts/lib/server.sh."""

    def __init__(self, binary, name, module=None, replicaof=None, wrapper=None, extra=()):
        self.name = name
        self.module = Path(module).resolve() if module else None
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"gcra-bench-{name}-"))
        self.loaded = {}
        # DEBUG HTSTATS (from 127.0.0.1 only) tells when preloaded keys are rehashed.
        args = ["--save", "", "--appendonly", "no", "--enable-debug-command", "local"]
        if module:
            args += ["--loadmodule", str(self.module)]
        if replicaof:
            args += ["--replicaof", "127.0.0.1", str(replicaof.port)]
        args += list(extra)
        env = dict(os.environ, REDIS_SERVER=binary, SERVER_CPUS=CPUS["server"])
        if wrapper:
            env.update(SERVER_WRAPPER=" ".join(wrapper(self.dir)), SERVER_WAIT="180")
        started = subprocess.run(["bash", str(SERVER_SH), "start", str(self.dir), str(self.port), *args],
                                 env=env)
        if started.returncode != 0:
            sys.exit(f"{name}: the server did not start; see {self.dir}/server.log")
        self.pid = int((self.dir / "server.pid").read_text())

    def cli(self, *args, check=True):
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        out = done.stdout.strip()
        if check and (done.returncode != 0 or out.startswith(("ERR", "WRONGTYPE", "NOSCRIPT"))):
            sys.exit(f"{self.name}: {' '.join(args)[:80]} -> {out or done.stderr.strip()}")
        return out

    def info(self, section):
        return dict(line.split(":", 1) for line in self.cli("INFO", section).splitlines() if ":" in line)

    def version(self):
        info = self.info("server")
        if "valkey_version" in info:
            return f"Valkey {info['valkey_version']}"
        return f"Redis {info.get('redis_version', '?')}"

    def stop(self):
        subprocess.run(["bash", str(SERVER_SH), "stop", str(self.dir)])
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for_sync(replica):
    deadline = time.time() + 60
    while replica.info("replication").get("master_link_status") != "up":
        if time.time() > deadline:
            sys.exit("replica never synced")
        time.sleep(0.1)


def server_binaries(names):
    """[(name, binary)] as scripts/test picks them: REDIS_SERVER alone, or the named ones."""
    if os.environ.get("REDIS_SERVER"):
        return [("custom", os.environ["REDIS_SERVER"])]
    found = []
    for name in names:
        if name == "redis7":
            binary = shutil.which("redis-server")
        elif name in ("redis8", "valkey8"):
            helper = {"redis8": "ensure_redis8", "valkey8": "ensure_valkey"}[name]
            binary = subprocess.run(["bash", "-c", f". scripts/lib/deps.sh && {helper}"], cwd=ROOT,
                                    capture_output=True, text=True).stdout.strip()
        else:
            sys.exit(f"unknown server '{name}' (known: redis7 redis8 valkey8)")
        if not binary or not os.access(binary, os.X_OK):
            sys.exit(f"{name}: no server binary found")
        found.append((name, binary))
    return found


def start_servers(binary, sos, replica=False, wrapper=None, extra=()):
    """One server per role that has a module to load: main (this module; also SET, SET PX
    and Lua), baseline, cell. With replica=True each gets a replica (without a module, except
    redis-cell's, which replicates its command verbatim)."""
    started = {}
    try:
        for role, so in sos.items():
            server = started[role] = Server(binary, role, module=so, wrapper=wrapper, extra=extra)
            if replica:
                copy = Server(binary, f"{role}-replica", module=so if role == "cell" else None,
                              replicaof=server)
                started[f"{role}-replica"] = copy
                wait_for_sync(copy)
    except BaseException:
        stop_servers(started)
        raise
    return started


def stop_servers(servers):
    for server in servers.values():
        server.stop()
