"""Timing mode: req/s and usec/call of each contender with redis-benchmark, in alternating rounds."""

import sys

from .run import benchmark, errors_in, prepare, usec_per_call
from .servers import start_servers, stop_servers


def timing(args, binaries, sos, contenders):
    pipelines = [int(p) for p in args.pipelines.split(",")]
    results, versions = {}, {}
    for name, binary in binaries:
        servers = start_servers(binary, sos, replica=args.replica)
        try:
            versions[name] = servers["main"].version()
            for round_no in range(args.rounds):
                for pipeline in pipelines:
                    for w in args.workloads:
                        # Rotate the order of the contenders from round to round.
                        here = [c for c in contenders]
                        shift = round_no % len(here)
                        for c in here[shift:] + here[:shift]:
                            server = servers[c.server]
                            argv = prepare(server, w, c)
                            if argv is None:
                                continue
                            rps = benchmark(server, argv, w.options, int(args.requests * c.share),
                                            pipeline)
                            usec = usec_per_call(server, argv[0])
                            if errors_in(server):
                                sys.exit(f"{c.label} on {w.id}: the server replied with errors "
                                         f"(e.g. {server.cli(*argv, check=False)[:100]})")
                            results.setdefault((name, pipeline, w.id, c.label), []).append((rps, usec))
                            print(f"{versions[name]} round {round_no + 1}/{args.rounds} -P {pipeline} "
                                  f"{w.id}: {c.label} {rps:,.0f} req/s, {usec:.2f} usec/call",
                                  file=sys.stderr)
        finally:
            stop_servers(servers)
    return results, versions, pipelines
