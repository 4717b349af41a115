"""One run: a server readied for a workload and contender (keys preloaded), redis-benchmark, stats."""

import subprocess
import sys
import time

from .servers import CPUS, pinned
from .workloads import USERS

CLIENTS = 50  # redis-benchmark -c


PRELOAD_SCRIPT = """
local prefix, suffix, n, every = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 0, n - 1 do
  local key = prefix .. string.format("%012d", i) .. suffix
  if every > 0 and i % every == 0 then
    redis.call("SET", key, ARGV[7], "PXAT", ARGV[8])
  else
    redis.call("SET", key, ARGV[5], "PXAT", ARGV[6])
  end
end
return n
"""


def prepare(server, workload, contender):
    """Empties the server, creates the workload's preloaded keys, loads the contender's
    script; returns the argv of one call."""
    server.cli("FLUSHALL")
    if workload.preload:
        seconds, micros = server.cli("TIME").split()
        now_ns = int(seconds) * 10**9 + int(micros) * 1000
        scale = 1000 if contender.unit == "us" else 1
        for p in workload.preload:
            burst, count, period = (int(x) for x in p.limit)
            interval = period * 10**9 // count
            tolerance = interval * (burst + 1)
            ok, over = now_ns + tolerance // 2, now_ns + tolerance + 600 * 10**9
            server.cli("EVAL", PRELOAD_SCRIPT, "0", p.prefix, p.suffix, str(USERS), str(p.every),
                       str(ok // scale), str(-(-ok // 10**6)), str(over // scale), str(-(-over // 10**6)))
        settle(server)
    loaded = None
    if contender.setup:
        loaded = server.loaded.get(contender.label) or server.cli(*contender.setup)
        server.loaded[contender.label] = loaded
    server.cli("CONFIG", "RESETSTAT")
    return contender.argv(workload, loaded)


def settle(server):
    """Waits until the server has finished rehashing its keyspace after a preload (the cron
    does it in 1 ms slices: left alone, part of it would fall into the measured run)."""
    deadline = time.time() + 120
    while "rehashing" in server.cli("DEBUG", "HTSTATS", "0"):
        if time.time() > deadline:
            print(f"{server.name}: still rehashing after 120 s", file=sys.stderr)
            return
        time.sleep(0.05)


def benchmark_argv(server, argv, options, requests, pipeline, *flags):
    """redis-benchmark sending argv to server, pinned to the client cores."""
    return pinned(CPUS["client"], ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port),
                                   "-n", str(requests), "-P", str(pipeline), "-c", str(CLIENTS),
                                   *flags, *options, *argv])


def benchmark(server, argv, options, requests, pipeline, quiet=True):
    out = subprocess.run(benchmark_argv(server, argv, options, requests, pipeline, "--csv"),
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"redis-benchmark failed: {out.stderr.strip()}")
    return float(out.stdout.strip().splitlines()[-1].split(",")[1].strip('"'))


def commandstat(server, command, field):
    """One field of `command`'s line in INFO commandstats, or None before its first call."""
    for line in server.cli("INFO", "commandstats").splitlines():
        name, _, rest = line.partition(":")
        if name.lower() == f"cmdstat_{command.lower()}":
            return dict(kv.split("=") for kv in rest.split(","))[field]
    return None


def usec_per_call(server, command):
    return float(commandstat(server, command, "usec_per_call") or "nan")


def errors_in(server):
    return int(server.info("stats").get("total_error_replies", "0"))
