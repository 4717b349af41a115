"""Instructions mode: what the server executes per call, counted under valgrind --tool=callgrind."""

import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .run import benchmark, errors_in, prepare
from .servers import start_servers, stop_servers


def callgrind_wrapper(directory):
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={directory}/callgrind.out.%p", f"--log-file={directory}/valgrind.log"]


def callgrind_control(server, *args):
    done = subprocess.run(["callgrind_control", *args, str(server.pid)], capture_output=True, text=True)
    if done.returncode != 0 or "Error" in done.stdout + done.stderr:
        sys.exit(f"callgrind_control {' '.join(args)} {server.pid}: {done.stdout}{done.stderr}")


def parse_callgrind(path):
    """Total Ir, self Ir per object file, inclusive Ir of each function by name (exact for
    functions that do not recurse, which is all we ask for) and calls to each function."""
    names = {"ob": {}, "fn": {}, "fl": {}}
    table = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn", "fl": "fl", "fi": "fl", "fe": "fl",
             "cfi": "fl", "cfl": "fl"}
    total, obj, fn, callee, in_call = 0, None, None, None, False
    self_by_obj, inclusive, calls_to = defaultdict(int), defaultdict(int), defaultdict(int)

    def resolve(kind, value):
        if value.startswith("("):
            ident, _, name = value.partition(")")
            name = name.strip()
            if name:
                names[kind][ident] = name
            return names[kind].get(ident, ident)
        return value

    with open(path) as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                inclusive[fn] += cost
                if not in_call:
                    self_by_obj[obj] += cost
                in_call = False
            elif line.startswith("calls="):
                in_call = True
                calls_to[callee] += int(line[6:].split()[0])
            elif line.startswith("summary:"):
                total = int(line.split()[1])
            else:
                kind, equals, value = line.rstrip("\n").partition("=")
                if equals and kind in table:
                    name = resolve(table[kind], value.strip())
                    if kind == "ob":
                        obj = name
                    elif kind == "fn":
                        fn = name
                    elif kind == "cfn":
                        callee = name
    return total, self_by_obj, inclusive, calls_to


# serverCron runs 10 times a second whatever the load; under callgrind a run lasts 50 times
# longer, so its share per call depends on the machine's speed. It is left out, except
# databasesCron (expiring keys and rehashing), which is per-key work.
TIMER, KEPT, COMMANDS = "serverCron", "databasesCron", "processCommand"
# The module API as Redis (RM_) and Valkey (VM_) name it.
API = ("RM_", "VM_")


@dataclass
class Count:
    total: float  # instructions per call
    module: float  # of which in the module's own code (0 without a module)
    api: dict  # module API function -> its instructions per call, callees included


def measure_instructions(server, w, c, calls):
    """A Count for c on w, or None if c does not apply to w."""
    for _ in range(3):
        argv = prepare(server, w, c)
        if argv is None:
            return None
        callgrind_control(server, "-i", "on")
        benchmark(server, argv, w.options, max(calls // 10, 1000), 16)
        before = set(server.dir.glob("callgrind.out.*.*"))
        callgrind_control(server, "-z")
        benchmark(server, argv, w.options, calls, 16)
        callgrind_control(server, "-d")
        callgrind_control(server, "-i", "off")
        if errors_in(server):
            sys.exit(f"{c.label} on {w.id}: the server replied with errors")
        dump = max(set(server.dir.glob("callgrind.out.*.*")) - before, key=lambda p: p.stat().st_mtime)
        total, self_by_obj, inclusive, calls_to = parse_callgrind(dump)
        dump.unlink()
        # Every command goes through processCommand once: the window must hold the measured
        # calls (and a few more: redis-benchmark's CONFIG GETs), or the zero or the dump came
        # late.
        if calls <= calls_to.get(COMMANDS, 0) <= calls * 1.005 + 2:
            break
        print(f"{server.name}: {calls_to.get(COMMANDS)} commands counted instead of {calls}; "
              "measuring again", file=sys.stderr)
    else:
        sys.exit(f"{c.label} on {w.id}: could not count exactly {calls} commands")
    counted = total - inclusive.get(TIMER, 0) + inclusive.get(KEPT, 0)
    module = 0
    if server.module:
        module = sum(ir for obj, ir in self_by_obj.items()
                     if obj and Path(obj).name == server.module.name)
    api = {fn: ir / calls for fn, ir in inclusive.items() if fn and fn.startswith(API)}
    return Count(counted / calls, module / calls, api)


def instructions(args, binaries, sos, contenders):
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("valgrind not found (Debian: apt-get install valgrind)")
    results, versions = defaultdict(list), {}
    for name, binary in binaries:
        servers = start_servers(binary, sos, wrapper=callgrind_wrapper)
        try:
            versions[name] = servers["main"].version()
            pairs = [(w, c) for w in args.workloads for c in contenders]

            def one(w, c, attempt):
                got = measure_instructions(servers[c.server], w, c, args.calls)
                if got:
                    results[(name, w.id, c.label)].append(got)
                    print(f"{versions[name]} pass {attempt} {w.id}: {c.label} {got.total:,.0f} "
                          f"instructions/call", file=sys.stderr)

            for attempt in (1, 2):
                for w, c in pairs:
                    one(w, c, attempt)
            # A third measurement where the first two differ by more than 0.5%.
            for w, c in pairs:
                got = [m.total for m in results.get((name, w.id, c.label), [])]
                if len(got) == 2 and abs(got[0] - got[1]) > 0.005 * min(got):
                    one(w, c, 3)
        finally:
            stop_servers(servers)
    return results, versions
