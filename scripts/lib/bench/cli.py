"""The command line: options, the builds and servers to compare, the mode to run, the report."""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .baseline import build_baseline
from .callgrind import instructions
from .chart import render_chart
from .core import core_benchmark
from .paths import MODULE, ROOT
from .paired import paired
from .report import (render_instructions, render_paired, render_storm, render_storm_instructions,
                     render_timing, write_report)
from .servers import CPUS, server_binaries
from .storm import ARRIVALS, STORM_WAITERS, storm
from .storm_callgrind import storm_instructions
from .timing import timing
from .workloads import CONTENDERS, WORKLOADS


def main(doc):
    """scripts/bench, with doc (the script's docstring) as its --help."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n", 1)[0], epilog=doc.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per call under callgrind instead of timing")
    parser.add_argument("--storm", action="store_true", help="waiters due together: the worst PING "
                        "while N clients block with CL.THROTTLE ... BLOCK and while they are released, "
                        "next to BLPOP")
    parser.add_argument("--waiters", help=f"--storm: comma-separated numbers of waiters ({STORM_WAITERS}; "
                        "--quick: 3000)")
    parser.add_argument("--arrival", default=",".join(ARRIVALS), help="--storm: how the waiters "
                        "arrive, comma-separated: paced (written one after another, run as read), "
                        "burst (written while the server is stopped, then run in one pass of its "
                        "event loop) (default: both)")
    parser.add_argument("--lead", type=float, help="--storm: seconds from the first waiter to their "
                        "due time (default 1 + 1 ms per waiter, with --instructions 20 + 30 ms; doubled and "
                        "retried if too short)")
    parser.add_argument("--paired", nargs="?", const="", metavar="LABELS",
                        help="throughput of each contender (comma-separated labels; default: "
                        "FCALL,gcra.lua EVALSHA) next to --reference's at the same time, on two "
                        "servers sharing one core: the ratio with the machine's drift cancelled")
    parser.add_argument("--reference", default="Lua EVALSHA", metavar="LABEL",
                        help="--paired: the contender the others are measured against (Lua EVALSHA)")
    parser.add_argument("--rounds", type=int, help="timing and --storm: alternating rounds (5)")
    parser.add_argument("--requests", type=int, help="timing: requests per run (300000)")
    parser.add_argument("--pipelines", default="16", help="timing: comma-separated -P values (16)")
    parser.add_argument("--replica", action="store_true", help="timing: a replica behind every server")
    parser.add_argument("--calls", type=int, help="--instructions: calls counted (20000)")
    parser.add_argument("--servers", help="servers to run (redis7 redis8 valkey8; default "
                        "REDIS_SERVERS or all three; --quick: redis7)")
    parser.add_argument("--workloads", help="comma-separated: " + ",".join(w.id for w in WORKLOADS))
    parser.add_argument("--baseline-so", default=os.environ.get("BASELINE_SO"), metavar="PATH",
                        help="another build of this module, as contender 'CL.THROTTLE (baseline)'")
    parser.add_argument("--baseline-rev", metavar="REV", help="build this module at a git revision "
                        "and use it as the baseline (cached under target/bench-baseline, or "
                        "$CARGO_TARGET_DIR/bench-baseline)")
    parser.add_argument("--quick", action="store_true", help="timing: 1 round of 100000 requests; "
                        "instructions: 5000 calls; Redis 7 only (unless given otherwise)")
    parser.add_argument("--write", metavar="FILE", help="also write the tables into FILE between "
                        "its <!-- bench:SECTION:begin/end --> markers, SECTION timing, instructions, storm, "
                        "storm-instructions or paired (timing also "
                        "redraws FILE's .svg chart)")
    args = parser.parse_args()
    if args.paired is not None and (args.storm or args.instructions):
        sys.exit("--paired measures throughput: not with --storm or --instructions")

    names = (args.servers or os.environ.get("REDIS_SERVERS")
             or ("redis7" if args.quick else "redis7 redis8 valkey8")).replace(",", " ").split()
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 5)
    args.requests = args.requests or (100000 if quick else 300000)
    args.calls = args.calls or (5000 if quick else 20000)
    args.waiters = [int(n) for n in (args.waiters or ("3000" if quick else STORM_WAITERS)).split(",")]
    args.arrival = args.arrival.split(",")
    if set(args.arrival) - set(ARRIVALS):
        sys.exit(f"--arrival: {args.arrival} (known: {', '.join(ARRIVALS)})")
    wanted = args.workloads.split(",") if args.workloads else [w.id for w in WORKLOADS]
    unknown = set(wanted) - {w.id for w in WORKLOADS}
    if unknown:
        sys.exit(f"unknown workloads {', '.join(sorted(unknown))}")
    args.workloads = [w for w in WORKLOADS if w.id in wanted]

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        CPUS["server"] = os.environ.get("SERVER_CPUS", str(cores[0]))
        CPUS["client"] = os.environ.get("BENCH_CPUS", str(cores[1]))
    for tool in ("redis-cli",) if args.storm else ("redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (Debian: apt-get install redis-server redis-tools)")
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "-p", "redis-gcra"], cwd=ROOT,
                   check=True)

    sos, notes = {"main": MODULE}, []
    if args.baseline_rev:
        args.baseline_so, described = build_baseline(args.baseline_rev)
        notes.append(f"CL.THROTTLE (baseline): this module built at {described}.")
    elif args.baseline_so:
        notes.append(f"CL.THROTTLE (baseline): {args.baseline_so}.")
    if args.baseline_so:
        sos["baseline"] = args.baseline_so
    if os.environ.get("REDIS_CELL_SO") and not args.storm:  # redis-cell has no BLOCK
        sos["cell"] = os.environ["REDIS_CELL_SO"]
        notes.append(f"redis-cell: {Path(os.environ['REDIS_CELL_SO']).name} on its own server.")
    for so in sos.values():
        if not Path(so).is_file():
            sys.exit(f"no such module: {so}")
    contenders = [c for c in CONTENDERS if c.server in sos]
    binaries = server_binaries(names)

    if args.storm and args.instructions:
        results, versions, contenders = storm_instructions(args, binaries, sos)
        report = render_storm_instructions(results, versions, contenders, args)
    elif args.storm:
        results, versions, contenders = storm(args, binaries, sos)
        report = render_storm(results, versions, contenders, args)
    elif args.paired is not None:
        results, versions, reference, wanted = paired(args, binaries, sos, contenders)
        report = render_paired(results, versions, reference, wanted, args)
    elif args.instructions:
        results, versions = instructions(args, binaries, sos, contenders)
        report = render_instructions(results, versions, contenders, args)
    else:
        results, versions, pipelines = timing(args, binaries, sos, contenders)
        report = render_timing(results, versions, pipelines, contenders, args)
    if notes:
        report = " ".join(notes) + "\n\n" + report
    if args.write and not args.instructions and not args.storm and args.paired is None and not args.quick:
        report += core_benchmark()
    print(report)
    if args.write:
        path = Path(args.write)
        section = "paired" if args.paired is not None else \
            "-".join(["storm"] * args.storm + ["instructions"] * args.instructions) or "timing"
        write_report(path, section, report)
        print(f"wrote {path}", file=sys.stderr)
        if section == "timing":
            name = next(iter(versions))
            chart = path.with_suffix(".svg")
            chart.write_text(render_chart(results, name, versions[name], pipelines[0],
                                          contenders, args.workloads))
            print(f"wrote {chart}", file=sys.stderr)
