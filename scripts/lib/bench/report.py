"""The markdown: each mode's tables and the headline, written into a file between its markers."""

import math
import os
import statistics
from datetime import datetime, timezone

from .callgrind import KEPT, TIMER
from .paired import WARMUP, WINDOW
from .run import CLIENTS
from .servers import CPUS
from .storm import ARRIVALS


def command_label(c, w):
    if c.label == "SET PX":
        return f"SET PX {w.px}"
    n = 1 if c.baseline else len(w.limits)
    if n == 1:
        return c.label
    return f"{c.label[:-1]}, {n} limits)" if c.label.endswith(")") else f"{c.label} ({n} limits)"


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def paired_ratio(results, key, base_key):
    """The median over rounds of key's req/s over base_key's in the same round: the machine's
    speed drifts from round to round, and a pair measured seconds apart shares the drift."""
    pairs = zip(results.get(key, []), results.get(base_key, []))
    return median([ratio(a, b) for (a, _), (b, _) in pairs])


def render_timing(results, versions, pipelines, contenders, args):
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    lines = [
        f"{when}; {os.cpu_count()} cores, servers pinned to core {CPUS['server'] or '(any)'}, "
        f"redis-benchmark to core {CPUS['client'] or '(any)'}; load average {load:.2f} at the end; "
        f"redis-benchmark -n {args.requests} -c {CLIENTS}, median of {args.rounds} alternating rounds"
        + ("; every server with a replica attached" if args.replica else "") + ".",
        "req/s: median throughput; × SET PX and × SET: the median over the rounds of the ratio to "
        "that baseline's throughput in the same round (higher is better; for several limits also "
        "per limit, i.e. times the number of limits); usec/call: server-side `INFO commandstats`.",
        "",
    ]
    for name, version in versions.items():
        for pipeline in pipelines:
            lines += [f"#### {version}, -P {pipeline}", "",
                      "| workload | command | req/s | × SET PX | × SET | usec/call |",
                      "|---|---|---|---|---|---|"]
            for w in args.workloads:
                rps = {c.label: median([r for r, _ in results.get((name, pipeline, w.id, c.label), [])])
                       for c in contenders}
                usec = {c.label: median([u for _, u in results.get((name, pipeline, w.id, c.label), [])])
                        for c in contenders}
                for c in contenders:
                    if (name, pipeline, w.id, c.label) not in results:
                        continue
                    n = 1 if c.baseline else len(w.limits)
                    cells = []
                    for base in ("SET PX", "SET"):
                        r = paired_ratio(results, (name, pipeline, w.id, c.label),
                                         (name, pipeline, w.id, base))
                        cell = f"{r:.2f}" if c.label != base else "1"
                        if n > 1:
                            cell += f" ({r * n:.2f} per limit)"
                        cells.append(cell)
                    label = command_label(c, w)
                    bold = "**" if c.label == "CL.THROTTLE" else ""
                    lines.append(f"| {w.label} | {bold}{label}{bold} | {rps[c.label]:,.0f} | "
                                 f"{bold}{cells[0]}{bold} | {cells[1]} | {usec[c.label]:.2f} |")
            if (name, pipeline, "hot-allowed", "CL.THROTTLE") in results:
                lines += ["", headline(results, name, version, pipeline, contenders)]
            lines += against_lua(results, name, version, pipeline, args.workloads)
            lines.append("")
    return "\n".join(lines)


def headline(results, name, version, pipeline, contenders):
    def key(label):
        return (name, pipeline, "hot-allowed", label)

    parts = [f"{paired_ratio(results, key('CL.THROTTLE'), key(label)):.2f}x {label}" for label in
             ("SET PX", "SET", "redis-cell", "Lua EVALSHA", "FCALL", "gcra.lua EVALSHA",
              "CL.THROTTLE (baseline)")
             if key(label) in results]
    return f"Hot key, allowed, {version}, -P {pipeline}: CL.THROTTLE at " + ", ".join(parts) + "."


def against_lua(results, name, version, pipeline, workloads):
    """The function library (FCALL and its script form) over the plain Lua script, paired per
    round: median (min-max) of the rounds, for the workloads that have both."""
    lines = []
    for label in ("FCALL", "gcra.lua EVALSHA"):
        parts = []
        for w in workloads:
            ours = results.get((name, pipeline, w.id, label), [])
            lua = results.get((name, pipeline, w.id, "Lua EVALSHA"), [])
            ratios = [ratio(a, b) for (a, _), (b, _) in zip(ours, lua)]
            if ratios:
                parts.append(f"{w.label} {spread(ratios, 2)}x")
        if parts:
            lines.append(f"{version}, -P {pipeline}: {label} over the Lua script, throughput paired "
                         "per round, median (min-max): " + "; ".join(parts) + ".")
    return [""] + lines if lines else []


def render_instructions(results, versions, contenders, args):
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{when}; valgrind --tool=callgrind on the server; {args.calls:,} calls per contender "
        f"and workload after a warm-up (redis-benchmark -P 16 -c {CLIENTS}); median of "
        "2 measurements (3 when they differed by more than 0.5%).",
        "Instructions per call: everything the server executes between `callgrind_control -z` "
        "and `-d` (networking, parsing, the command, replies, the expiry cycle) divided by the "
        f"calls, except `{TIMER}`'s clock-driven housekeeping (its `{KEPT}`, which expires keys, "
        "is kept). × SET PX and × SET: the count over each baseline's (lower is better). "
        "In the module: instructions executed in the module's own code (the .so), inside the "
        "total. Spread: (max - min) / median of the measurements.",
        "",
    ]

    def runs(name, w, label):
        return results.get((name, w.id, label), [])

    def total(name, w, label):
        return median([m.total for m in runs(name, w, label)])

    for name, version in versions.items():
        lines += [f"#### {version}", "",
                  "| workload | command | instructions/call | × SET PX | × SET | in the module | spread |",
                  "|---|---|---|---|---|---|---|"]
        for w in args.workloads:
            for c in contenders:
                measured = runs(name, w, c.label)
                if not measured:
                    continue
                ir = total(name, w, c.label)
                cells = ["1" if c.label == base else f"{ratio(ir, total(name, w, base)):.2f}"
                         for base in ("SET PX", "SET")]
                own = median([m.module for m in measured])
                own = f"{own:,.0f}" if own else ""
                spread = (max(m.total for m in measured) - min(m.total for m in measured)) / ir * 100
                n = 1 if c.baseline else len(w.limits)
                count = f"{ir:,.0f}" + (f" ({ir / n:,.0f} per limit)" if n > 1 else "")
                bold = "**" if c.label == "CL.THROTTLE" else ""
                lines.append(f"| {w.label} | {bold}{command_label(c, w)}{bold} | {bold}{count}{bold} | "
                             f"{cells[0]} | {cells[1]} | {own} | {spread:.2f}% |")
        lines.append("")
        hot = next((w for w in args.workloads if w.id == "hot-allowed"), None)
        if hot and runs(name, hot, "CL.THROTTLE"):
            measured = runs(name, hot, "CL.THROTTLE")
            api = {fn: median([m.api.get(fn, 0) for m in measured]) for m in measured for fn in m.api}
            top = sorted(api.items(), key=lambda item: -item[1])[:6]
            lines.append(f"CL.THROTTLE on a hot key, allowed: of its {total(name, hot, 'CL.THROTTLE'):,.0f} "
                         f"instructions, {median([m.module for m in measured]):,.0f} in the module's "
                         "own code; the module API calls it makes (callees included): "
                         + ", ".join(f"`{fn}` {ir:,.0f}" for fn, ir in top) + ".")
            lines.append("")
        for w in args.workloads:
            ours, base = total(name, w, "CL.THROTTLE"), total(name, w, "CL.THROTTLE (baseline)")
            if not math.isnan(ours) and not math.isnan(base):
                lines.append(f"- {w.label}: CL.THROTTLE {ours:,.0f} instructions/call, baseline "
                             f"{base:,.0f} ({(ours / base - 1) * 100:+.2f}%)")
        lines.append("")
    return "\n".join(lines)


def render_paired(results, versions, reference, wanted, args):
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{when}; two servers pinned to core {CPUS['server'] or '(any)'}, each loaded by its own "
        f"redis-benchmark (-P {args.pipelines.split(',')[0]} -c {CLIENTS}, pinned to core "
        f"{CPUS['client'] or '(any)'}) at the same time, one with the contender and one with "
        f"{reference.label}; calls counted by `INFO commandstats` over {WINDOW:.0f} s after "
        f"{WARMUP:.0f} s of load; the servers swap roles from round to round; {args.rounds} rounds.",
        f"× {reference.label}: the contender's calls over {reference.label}'s in the same seconds, "
        "median (min-max) of the rounds (higher is better).",
        "",
    ]
    for name, version in versions.items():
        lines += [f"#### {version}", "", f"| workload | command | calls/s | {reference.label} calls/s "
                  f"| × {reference.label} |", "|---|---|---|---|---|"]
        for w in args.workloads:
            for c in wanted:
                measured = results.get((name, w.id, c.label), [])
                if measured:
                    ours = median([a for a, _ in measured])
                    theirs = median([b for _, b in measured])
                    lines.append(f"| {w.label} | {command_label(c, w)} | {ours:,.0f} | {theirs:,.0f} | "
                                 f"{spread([a / b for a, b in measured], 3)} |")
        lines.append("")
    return "\n".join(lines)


def spread(values, digits=0):
    """median (min-max)"""
    if not values:
        return ""
    f = f"{{:,.{digits}f}}"
    text = f.format(median(values))
    return text + (f" ({f.format(min(values))}-{f.format(max(values))})" if len(values) > 1 else "")


def render_storm(results, versions, contenders, args):
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    lines = [
        f"{when}; {os.cpu_count()} cores, servers pinned to core {CPUS['server'] or '(any)'}, the "
        f"script and its prober to core {CPUS['client'] or '(any)'}; load average {load:.2f} at the "
        f"end; {args.rounds} rounds, the contenders' order rotating from round to round; a fresh "
        "server for each number of waiters.",
        "Stalls: the worst round trip of a PING sent by another client in a loop (1 ms between a "
        "PONG and the next PING) while the waiters arrive (from the first command sent, or the "
        "SIGCONT, until the server counts them all blocked) and while they are released (from "
        "the due millisecond, or the RPUSH, until the server counts none blocked); median "
        "(min-max) over the rounds. × BLPOP: the median over the rounds of the ratio to BLPOP's "
        "stall in the same round. Arrival: paced, the commands written one after another on the "
        "waiters' connections, the server running them as it reads them; one burst, the same "
        "written while the server is stopped (SIGSTOP), then SIGCONT: it reads and runs all of "
        "them in one pass of its event loop. "
        "Idle: the worst PING in the half second before the waiters came (the noise floor). "
        "usec/call: the waiters' command in `INFO commandstats` (its release included). "
        "In every run every waiter got exactly one reply, the expected one.",
        "",
    ]
    for name, version in versions.items():
        lines += [f"#### {version}", "",
                  "| waiters | arrival | command | arrival stall, ms | × BLPOP | release stall, ms | "
                  "× BLPOP | idle, ms | usec/call |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for n in args.waiters:
            for arrival in args.arrival:
                blpop = results.get((name, n, arrival, "BLPOP"), [])
                for c in contenders:
                    runs = results.get((name, n, arrival, c.label), [])
                    if not runs:
                        continue
                    cells = []
                    for field_name in ("arrival", "release"):
                        values = [getattr(r, field_name) for r in runs]
                        ratios = [ratio(getattr(a, field_name), getattr(b, field_name))
                                  for a, b in zip(runs, blpop)]
                        cells += [spread(values, 1 if median(values) < 100 else 0),
                                  "1" if c.label == "BLPOP" else f"{median(ratios):.2f}"]
                    bold = "**" if c.label == "CL.THROTTLE" else ""
                    label = ("CL.THROTTLE ... BLOCK 60000" if c.throttle else "BLPOP ... 60") + (
                        " (baseline)" if c.server == "baseline" else "")
                    lines.append(f"| {n:,} | {ARRIVALS[arrival]} | {bold}{label}{bold} | "
                                 f"{bold}{cells[0]}{bold} | {cells[1]} | {bold}{cells[2]}{bold} | "
                                 f"{cells[3]} | {spread([r.quiet for r in runs], 1)} | "
                                 f"{median([r.usec for r in runs]):.1f} |")
        lines.append("")
    return "\n".join(lines)


def render_storm_instructions(results, versions, contenders, args):
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{when}; valgrind --tool=callgrind on the server; one storm per contender and size, "
        "arriving paced. Instructions per waiter: everything the server executes while the "
        "waiters arrive (from the first command to all blocked) or while they are released "
        "(from just before the due millisecond, or the RPUSH, to none blocked), divided by the "
        "number of waiters; left out, as in --instructions, serverCron's housekeeping (but its "
        "databasesCron) "
        "and the INFO calls that watch the storm. In the module: the module's own code, inside "
        "the total. Every waiter got exactly one reply, the expected one.",
        "",
    ]
    for name, version in versions.items():
        lines += [f"#### {version}", "",
                  "| waiters | command | arrival, instructions/waiter | × BLPOP | in the module | "
                  "release, instructions/waiter | × BLPOP | in the module |",
                  "|---|---|---|---|---|---|---|---|"]
        for n in args.waiters:
            blpop = results.get((name, n, "BLPOP"))
            for c in contenders:
                got = results.get((name, n, c.label))
                if not got:
                    continue
                bold = "**" if c.label == "CL.THROTTLE" else ""
                label = ("CL.THROTTLE ... BLOCK" if c.throttle else "BLPOP") + (
                    " (baseline)" if c.server == "baseline" else "")
                cells = []
                for field_name in ("arrival", "release"):
                    total, own = getattr(got, field_name), getattr(got, field_name + "_module")
                    base = getattr(blpop, field_name) if blpop else float("nan")
                    cells += [f"{total:,.0f}", "1" if c.label == "BLPOP" else f"{ratio(total, base):.2f}",
                              f"{own:,.0f}" if own else ""]
                lines.append(f"| {n:,} | {bold}{label}{bold} | {bold}{cells[0]}{bold} | {cells[1]} | "
                             f"{cells[2]} | {bold}{cells[3]}{bold} | {cells[4]} | {cells[5]} |")
        lines.append("")
    return "\n".join(lines)


def write_report(path, section, report):
    """Replaces the text between this section's markers, or writes the whole file if it has none."""
    begin, end = f"<!-- bench:{section}:begin -->\n", f"<!-- bench:{section}:end -->"
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        path.write_text(head + begin + report.rstrip() + "\n" + end + tail)
    else:
        path.write_text(text + "\n" + begin + report.rstrip() + "\n" + end + "\n")
