"""--storm --instructions: instructions per waiter at arrival and at release, under callgrind."""

import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .callgrind import KEPT, TIMER, callgrind_control, callgrind_wrapper, parse_callgrind
from .resp import Conn, Incomplete, StormError, parse_reply, resp
from .servers import start_servers, stop_servers
from .storm import (STORM_BLPOP, STORM_CONTENDERS, STORM_KEY, STORM_LIST, STORM_THROTTLE, LateArrival,
                    check_reply, wait_until, with_growing_lead)


@dataclass
class StormCount:
    arrival: float  # instructions per waiter while they arrive
    arrival_module: float  # of which in the module's own code
    release: float  # instructions per waiter while they are released
    release_module: float


def read_replies(contender, waiters, timeout=60):
    """Reads every waiter's reply (blocking, bounded); raises StormError unless each got
    exactly one, the expected one."""
    deadline = time.monotonic() + timeout
    for i, sock in enumerate(waiters):
        buf = bytearray()
        while True:
            try:
                reply, pos = parse_reply(buf)
                break
            except Incomplete:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = sock.recv(65536)
                if not chunk:
                    raise StormError(f"waiter {i}: connection closed before its reply")
                buf += chunk
        wrong = check_reply(contender, reply) or (pos != len(buf) and f"more than one reply: {bytes(buf)!r}")
        if wrong:
            raise StormError(f"waiter {i}: {wrong}")
    time.sleep(0.05)
    for i, sock in enumerate(waiters):
        sock.setblocking(False)
        try:
            extra = sock.recv(64)
        except BlockingIOError:
            continue
        raise StormError(f"waiter {i}: " + (f"a second reply {extra!r}" if extra else "closed"))


def storm_count(server, contender, n, lead):
    """Instructions per waiter of one storm (paced arrival) on a server under callgrind: the
    arrival (from the first command to all blocked) and the release (from just before the due
    millisecond, or the RPUSH, to none blocked). Left out, as in --instructions: serverCron's
    housekeeping (but its databasesCron), and the INFO calls that watch the storm."""
    ctl = Conn(server.port, timeout=600)
    waiters = []
    try:
        ctl.call("FLUSHALL")
        clients = lambda: ctl.info("clients")  # noqa: E731
        base = int(clients()["connected_clients"])
        for i in range(n):
            waiters.append(socket.create_connection(("127.0.0.1", server.port), timeout=600))
            if (i + 1) % 200 == 0 or i + 1 == n:
                wait_until(f"{i + 1} connections",
                           lambda: int(clients()["connected_clients"]) >= base + i + 1, timeout=600)
        callgrind_control(server, "-i", "on")
        before = ctl.info("gcra_stats") if contender.throttle else {}
        command = resp(STORM_BLPOP)
        if contender.throttle:
            # Under callgrind the old build's arrival of 5,000 waiters takes minutes: a long
            # lead, and a BLOCK long enough for it (the same code path as BLOCK 60000).
            seconds, micros = (int(x) for x in ctl.call("TIME"))
            tat_ms = seconds * 1000 + micros // 1000 + int(lead * 1000)
            ctl.call("SET", STORM_KEY, str(tat_ms * 1_000_000 + 100_000), "PXAT", str(tat_ms + 1000))
            command = resp(STORM_THROTTLE[:-1] + ["600000"])
        dumps = []

        def count():
            before_dump = set(server.dir.glob("callgrind.out.*.*"))
            callgrind_control(server, "-d")
            dump = max(set(server.dir.glob("callgrind.out.*.*")) - before_dump,
                       key=lambda p: p.stat().st_mtime)
            total, self_by_obj, inclusive, _ = parse_callgrind(dump)
            dump.unlink()
            counted = (total - inclusive.get(TIMER, 0) + inclusive.get(KEPT, 0)
                       - inclusive.get("infoCommand", 0))
            module = 0
            if server.module:
                module = sum(ir for obj, ir in self_by_obj.items()
                             if obj and Path(obj).name == server.module.name)
            dumps.append((counted / n, module / n))

        callgrind_control(server, "-z")
        for sock in waiters:
            sock.sendall(command)
        wait_until("every waiter to block", lambda: int(clients()["blocked_clients"]) >= n,
                   timeout=1200, step=0.5)
        if contender.throttle:
            wait_until(f"{n} reservations", lambda: int(ctl.info("gcra_stats")["gcra_blocked"])
                       - int(before["gcra_blocked"]) >= n, timeout=600, step=0.5)
        count()
        if contender.throttle:
            wait = tat_ms / 1000 - time.time() - 1
            if wait < 0:
                raise LateArrival(f"{n} waiters took more than {lead:.0f} s to arrive")
            time.sleep(wait)
            callgrind_control(server, "-z")
        else:
            callgrind_control(server, "-z")
            ctl.call("RPUSH", STORM_LIST, *["x"] * n)
        wait_until("the release", lambda: int(clients()["blocked_clients"]) == 0, timeout=600, step=0.5)
        count()
        callgrind_control(server, "-i", "off")
        read_replies(contender, waiters)
        if contender.throttle:
            after = ctl.info("gcra_stats")
            for field_name in ("gcra_blocked", "gcra_released"):
                if int(after[field_name]) - int(before[field_name]) != n:
                    raise StormError(f"{field_name} went from {before[field_name]} to "
                                     f"{after[field_name]}, not up by {n}")
        return StormCount(*dumps[0], *dumps[1])
    finally:
        for sock in waiters:
            sock.close()
        try:
            wait_until("the waiters to disconnect",
                       lambda: int(ctl.info("clients")["connected_clients"]) <= 1, timeout=600)
        finally:
            ctl.close()


def storm_instructions(args, binaries, sos):
    """{(server name, n, label): StormCount}, {server name: version}."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("valgrind not found (Debian: apt-get install valgrind)")
    contenders = [c for c in STORM_CONTENDERS if c.server in sos]
    results, versions = {}, {}
    for name, binary in binaries:
        for n in args.waiters:
            servers = start_servers(binary, {role: so for role, so in sos.items() if role != "cell"},
                                    wrapper=callgrind_wrapper, extra=["--maxclients", str(n + 1000)])
            try:
                versions[name] = servers["main"].version()
                for c in contenders:
                    try:
                        got = with_growing_lead(lambda lead: storm_count(servers[c.server], c, n, lead),
                                                args.lead or 20 + n * 0.03, 2, f"{c.label}, {n} waiters")
                    except StormError as e:
                        sys.exit(f"ERROR: {versions[name]}, {c.label}, {n} waiters under callgrind: {e}")
                    results[(name, n, c.label)] = got
                    print(f"{versions[name]} {n:,} waiters: {c.label}: arrival {got.arrival:,.0f} "
                          f"instructions/waiter ({got.arrival_module:,.0f} in the module), release "
                          f"{got.release:,.0f} ({got.release_module:,.0f}); {n:,} replies, one each",
                          file=sys.stderr)
            finally:
                stop_servers(servers)
    return results, versions, contenders
