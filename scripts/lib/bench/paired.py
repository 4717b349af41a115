"""Paired mode: two contenders at the same time, each on its own server, both servers pinned to
one core. Over the same seconds the machine's speed is the same for both (on these shared
machines it drifts by 10-50% within a minute), so the ratio of the calls each completes is
the ratio of their throughputs, with the drift cancelled."""

import subprocess
import sys
import time

from .run import benchmark_argv, commandstat, errors_in, prepare
from .servers import Server, stop_servers

WARMUP = 1.0  # seconds of load before counting
WINDOW = 4.0  # seconds counted


def calls_of(server, command):
    """How many times `command` has run on `server` (INFO commandstats)."""
    return int(commandstat(server, command, "calls") or 0)


def load(server, argv, options, pipeline):
    """redis-benchmark sending argv until stopped."""
    return subprocess.Popen(benchmark_argv(server, argv, options, 2000000000, pipeline, "-q"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def side_by_side(servers, w, contenders, pipeline):
    """Calls per second of each contender (one per server), loaded at the same time."""
    argvs = [prepare(server, w, c) for server, c in zip(servers, contenders)]
    if any(argv is None for argv in argvs):
        return None
    loads = []
    try:
        loads = [load(server, argv, w.options, pipeline) for server, argv in zip(servers, argvs)]
        time.sleep(WARMUP)
        before = [(calls_of(s, argv[0]), time.monotonic()) for s, argv in zip(servers, argvs)]
        time.sleep(WINDOW)
        after = [(calls_of(s, argv[0]), time.monotonic()) for s, argv in zip(servers, argvs)]
        # Both loads must have lasted the whole window, or one ran alone for part of it.
        stopped = [c.label for c, process in zip(contenders, loads) if process.poll() is not None]
    finally:
        for process in loads:
            process.terminate()
            process.wait()
    if stopped:
        sys.exit(f"{w.id}: redis-benchmark stopped early for {', '.join(stopped)}")
    for server, c in zip(servers, contenders):
        if errors_in(server):
            sys.exit(f"{c.label} on {w.id}: the server replied with errors")
    rates = [(n1 - n0) / (t1 - t0) for (n0, t0), (n1, t1) in zip(before, after)]
    if min(rates) <= 0:
        sys.exit(f"{w.id}: no calls counted for {contenders[rates.index(min(rates))].label}")
    return rates


def paired(args, binaries, sos, contenders):
    """For each server, round, workload and contender: its calls per second and the
    reference's, measured side by side; the two servers swap roles from round to round."""
    reference = next((c for c in contenders if c.label == args.reference), None)
    if reference is None:
        sys.exit(f"--reference: no contender {args.reference!r}")
    # Both servers load this module; the other builds (redis-cell, a baseline) have their own
    # servers in the other modes and are not offered here.
    here = [c for c in contenders if c.server == "main"]
    labels = (args.paired or "FCALL,gcra.lua EVALSHA").split(",")
    wanted = [c for c in here if c.label in labels]
    if len(wanted) != len(labels) or reference not in here:
        sys.exit(f"--paired, --reference: known contenders are {', '.join(c.label for c in here)}")
    pipeline = int(args.pipelines.split(",")[0])
    results, versions = {}, {}
    for name, binary in binaries:
        servers = []
        try:
            for i in (1, 2):
                servers.append(Server(binary, f"paired-{i}", module=sos["main"]))
            versions[name] = servers[0].version()
            for round_no in range(args.rounds):
                pair = servers if round_no % 2 == 0 else servers[::-1]
                for w in args.workloads:
                    for c in wanted:
                        if c is reference:
                            continue
                        rates = side_by_side(pair, w, [c, reference], pipeline)
                        if rates is None:
                            continue
                        results.setdefault((name, w.id, c.label), []).append(tuple(rates))
                        print(f"{versions[name]} round {round_no + 1}/{args.rounds} {w.id}: "
                              f"{c.label} {rates[0]:,.0f}/s, {reference.label} {rates[1]:,.0f}/s, "
                              f"ratio {rates[0] / rates[1]:.3f}", file=sys.stderr)
        finally:
            stop_servers({s.name: s for s in servers})
    return results, versions, reference, wanted
