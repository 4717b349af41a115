"""Storm mode: the stalls while thousands of BLOCK waiters (or BLPOP's) arrive and are released."""

import math
import os
import selectors
import signal
import socket
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from .prober import Prober, worst_ping
from .resp import Conn, Incomplete, RespError, StormError, parse_reply, resp
from .run import usec_per_call
from .servers import CPUS, start_servers, stop_servers

# N clients block at once and are released at once, while a separate client, the prober, sends
# PING in a loop: the worst PING round trip while they arrive and while they are released is
# how long the server stopped serving everyone else. CL.THROTTLE waiters are all due in the
# same millisecond (one token per nanosecond behind a TAT set ahead); BLPOP waiters, the
# native reference, are released by one RPUSH of N elements.
STORM_KEY, STORM_LIST = "storm", "storm:list"
STORM_THROTTLE = ["CL.THROTTLE", STORM_KEY, "0", "1000000000", "1", "1", "BLOCK", "60000"]
STORM_BLPOP = ["BLPOP", STORM_LIST, "60"]
STORM_WAITERS = "3000,5000"
# How the waiters' commands reach the server. paced: written on the n connections one after
# another as fast as this script can, the server reading and running them as they come (a few
# at a time if it keeps up); burst: written while the server is stopped (SIGSTOP), so that when
# it continues (SIGCONT) it finds all n waiting and reads and runs them in one pass of its event
# loop: the worst case, a stall of n arrivals.
ARRIVALS = {"paced": "paced", "burst": "one burst"}
QUIET = 0.5  # seconds of PINGs before the waiters arrive: the idle worst, the noise floor


@dataclass
class StormContender:
    label: str
    server: str  # "main" (this module; BLPOP runs there too) or "baseline"
    throttle: bool  # CL.THROTTLE ... BLOCK, else BLPOP


STORM_CONTENDERS = [
    StormContender("CL.THROTTLE", "main", True),
    StormContender("CL.THROTTLE (baseline)", "baseline", True),
    StormContender("BLPOP", "main", False),
]


class LateArrival(StormError):
    """The waiters had not all arrived before they were due: rerun with a longer lead."""


def with_growing_lead(run, lead, attempts, what):
    """run(lead), again with twice the lead while the waiters arrive late, `attempts` times
    at most (then exits naming `what`). Other StormErrors pass through."""
    for attempt in range(1, attempts + 1):
        try:
            return run(lead)
        except LateArrival as late:
            if attempt == attempts:
                sys.exit(f"{what}: {late}")
            lead *= 2
            print(f"{late}; again with a lead of {lead:.1f} s", file=sys.stderr)


def wait_until(what, predicate, timeout=60, step=0.01):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise StormError(f"timed out waiting for {what}")
        time.sleep(step)


@dataclass
class StormResult:
    quiet: float  # ms: the worst PING before the waiters came (the noise floor)
    arrival: float  # ms: the worst PING while they arrived
    release: float  # ms: the worst PING while they were released
    usec: float  # server-side usec_per_call of the waiters' command
    arrive_s: float  # seconds from the first command sent (or SIGCONT) to all blocked
    release_s: float  # seconds from the release until none is blocked


def check_reply(contender, reply):
    """None if reply is what a released waiter gets, else what is wrong with it."""
    if isinstance(reply, RespError):
        return f"error reply: {reply}"
    if contender.throttle:
        # Allowed (0), limit 1 (max_burst 0 + 1), retry_after -1.
        ok = (isinstance(reply, list) and len(reply) == 5 and all(isinstance(v, int) for v in reply)
              and reply[0] == 0 and reply[1] == 1 and reply[3] == -1)
    else:
        ok = reply == [STORM_LIST.encode(), b"x"]
    return None if ok else f"unexpected reply {reply!r}"


def storm_run(server, contender, n, arrival, lead):
    """One storm of n waiters of contender on server, arriving as `arrival` says (ARRIVALS):
    a StormResult. Raises StormError (LateArrival if the waiters took longer than `lead`
    seconds to arrive)."""
    ctl = Conn(server.port)
    waiters, prober, stopped = [], None, False
    selector = selectors.DefaultSelector()
    try:
        ctl.call("FLUSHALL")
        clients = lambda: ctl.info("clients")  # noqa: E731
        base = int(clients()["connected_clients"])
        # Connect first (in batches, so that the listen backlog never overflows), then send
        # every command as fast as one thread can.
        for i in range(n):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            waiters.append(sock)
            if (i + 1) % 200 == 0 or i + 1 == n:
                wait_until(f"{i + 1} connections",
                           lambda: int(clients()["connected_clients"]) >= base + i + 1)
        ctl.call("CONFIG", "RESETSTAT")
        before = ctl.info("gcra_stats") if contender.throttle else {}
        prober = Prober(server.port)
        t_quiet = time.monotonic()
        time.sleep(QUIET)
        command = resp(STORM_BLPOP)
        if contender.throttle:
            # The TAT `lead` seconds ahead, 100 us into a millisecond: the n waiters reserve one
            # nanosecond each behind it, so all are due in that millisecond.
            seconds, micros = (int(x) for x in ctl.call("TIME"))
            tat_ms = seconds * 1000 + micros // 1000 + int(lead * 1000)
            tat = tat_ms * 1_000_000 + 100_000
            ctl.call("SET", STORM_KEY, str(tat), "PXAT", str(tat_ms + 1000))
            # Where that millisecond begins, on this process's monotonic clock.
            due = time.monotonic() + (tat_ms / 1000 - time.time())
            command = resp(STORM_THROTTLE)
        t_idle = t_blast = time.monotonic()
        if arrival == "burst":
            # The prober waits too: a PING sent while the server is stopped would be answered
            # in the burst, and the next one sent only after it.
            prober.hold()
            os.kill(server.pid, signal.SIGSTOP)
            stopped = True
        for sock in waiters:
            sock.sendall(command)
        if arrival == "burst":
            time.sleep(0.05)  # the last bytes through loopback
            t_blast = time.monotonic()
            os.kill(server.pid, signal.SIGCONT)
            stopped = False
            prober.go()
        buffers, replies, problems = {}, [None] * n, []
        for i, sock in enumerate(waiters):
            sock.setblocking(False)
            buffers[i] = bytearray()
            selector.register(sock, selectors.EVENT_READ, i)

        def read_ready(timeout, release=math.inf):
            """Reads what has come within timeout; a reply is early if read before release."""
            events = selector.select(timeout)
            released = time.monotonic() >= release
            for key, _ in events:
                i = key.data
                try:
                    chunk = waiters[i].recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    problems.append(f"waiter {i}: connection closed")
                    selector.unregister(waiters[i])
                    continue
                buffers[i] += chunk
                while buffers[i]:
                    try:
                        reply, pos = parse_reply(buffers[i])
                    except Incomplete:
                        break
                    del buffers[i][:pos]
                    if replies[i] is not None:
                        problems.append(f"waiter {i}: a second reply {reply!r}")
                    elif not released:
                        problems.append(f"waiter {i}: answered before the release: {reply!r}")
                    replies[i] = reply
                    wrong = check_reply(contender, reply)
                    if wrong:
                        problems.append(f"waiter {i}: {wrong}")

        def blocked():
            """Until the server counts n blocked clients (held back by the pause, or waiting)."""
            deadline = time.monotonic() + lead + 60
            while int(clients()["blocked_clients"]) < n:
                read_ready(0.01)
                if problems:
                    raise StormError("; ".join(problems[:5]))
                if time.monotonic() > deadline:
                    raise StormError(f"only {clients()['blocked_clients']} of {n} waiters blocked")

        blocked()
        if contender.throttle:
            # Every waiter has made its reservation.
            wait_until(f"{n} reservations", lambda: int(ctl.info("gcra_stats")["gcra_blocked"])
                       - int(before["gcra_blocked"]) >= n, timeout=lead + 60)
        t_blocked = time.monotonic()
        # Release: at the due millisecond, or one RPUSH of n elements.
        if contender.throttle:
            if t_blocked > due - 0.05:
                raise LateArrival(f"{n} waiters took {t_blocked - t_blast:.1f} s to arrive, "
                                  f"more than the lead of {lead:.1f} s")
            while time.monotonic() < due - 0.05:
                read_ready(0.01)
            t_release = due - 0.001
        else:
            time.sleep(0.2)
            read_ready(0)
            t_release = time.monotonic()
            pushed = ctl.call("RPUSH", STORM_LIST, *["x"] * n)
            if pushed != n:
                raise StormError(f"RPUSH of {n} elements: {pushed}")
        # The release is over when the server counts no blocked client. The replies are read
        # afterwards, so that this process (on the prober's core) stays idle meanwhile.
        deadline = time.monotonic() + 60
        while int(clients()["blocked_clients"]) > 0:
            if time.monotonic() > deadline:
                raise StormError(f"{clients()['blocked_clients']} of {n} waiters still blocked "
                                 "60 s after their release")
            time.sleep(0.005)
        t_done = time.monotonic()
        while any(r is None for r in replies):
            read_ready(0.01, t_release)
            if time.monotonic() > deadline:
                missing = sum(r is None for r in replies)
                raise StormError(f"{missing} of {n} waiters got no reply within 60 s of their release")
        # Exactly one reply each: nothing more comes.
        time.sleep(0.05)
        read_ready(0, t_release)
        if any(buffers.values()):
            problems.append("bytes after a reply: " + repr(next(b for b in buffers.values() if b)[:80]))
        if problems:
            raise StormError(f"{len(problems)} problems: " + "; ".join(problems[:5]))
        if contender.throttle:
            after = ctl.info("gcra_stats")
            for field in ("gcra_blocked", "gcra_released"):
                if int(after[field]) - int(before[field]) != n:
                    raise StormError(f"{field} went from {before[field]} to {after[field]}, not up by {n}")
        usec = usec_per_call(server, STORM_THROTTLE[0] if contender.throttle else "BLPOP")
        pings = prober.stop()
        prober = None
        return StormResult(
            quiet=worst_ping([p for p in pings if p[1] <= t_idle], t_quiet, t_idle),
            arrival=worst_ping(pings, t_blast, t_blocked),
            release=worst_ping(pings, t_release, t_done),
            usec=usec, arrive_s=t_blocked - t_blast, release_s=t_done - t_release)
    finally:
        if stopped:
            os.kill(server.pid, signal.SIGCONT)
        if prober:
            prober.kill()
        selector.close()
        for sock in waiters:
            sock.close()
        # The next run starts once the server has let go of these connections.
        try:
            wait_until("the waiters to disconnect",
                       lambda: int(ctl.info("clients")["connected_clients"]) <= 1, timeout=60)
        finally:
            ctl.close()


def storm_lead(n, lead):
    """Seconds between the TAT's write and the due millisecond: enough for n waiters to
    arrive, even at the baseline's quadratic cost on a busy machine (5,000: 3.3 s seen)."""
    return lead if lead else 1 + n * 0.001


def storm(args, binaries, sos):
    """{(server name, n, arrival, label): [StormResult]}, {server name: version}."""
    contenders = [c for c in STORM_CONTENDERS if c.server in sos]
    results, versions = defaultdict(list), {}
    # The cores of BENCH_CPUS, in taskset's list syntax ("1", "1,3", "2-3").
    client_cpus = {cpu for part in CPUS["client"].split(",") if part
                   for first, _, last in [part.partition("-")]
                   for cpu in range(int(first), int(last or first) + 1)}
    affinity = os.sched_getaffinity(0)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)  # the driver runs beside the prober
    try:
        for name, binary in binaries:
            for n in args.waiters:
                # A fresh server per size, with room for n waiters.
                servers = start_servers(binary, {role: so for role, so in sos.items() if role != "cell"},
                                        extra=["--maxclients", str(n + 1000)])
                try:
                    versions[name] = servers["main"].version()
                    for round_no in range(args.rounds):
                        shift = round_no % len(contenders)
                        for arrival, c in [(a, c) for a in args.arrival
                                           for c in contenders[shift:] + contenders[:shift]]:
                            try:
                                got = with_growing_lead(
                                    lambda lead: storm_run(servers[c.server], c, n, arrival, lead),
                                    storm_lead(n, args.lead), 3, f"{c.label}, {n} waiters")
                            except StormError as e:
                                sys.exit(f"ERROR: {versions[name]}, {c.label}, {n} waiters "
                                         f"({arrival}), round {round_no + 1}: {e}")
                            results[(name, n, arrival, c.label)].append(got)
                            print(f"{versions[name]} round {round_no + 1}/{args.rounds} {n:,} waiters, "
                                  f"{arrival}: "
                                  f"{c.label}: arrival {got.arrival:.1f} ms, release {got.release:.1f} ms "
                                  f"(idle {got.quiet:.1f} ms; arrived in {got.arrive_s:.2f} s, released "
                                  f"in {got.release_s * 1000:.0f} ms; {got.usec:.1f} usec/call; "
                                  f"{n:,} replies, one each)", file=sys.stderr)
                finally:
                    stop_servers(servers)
    finally:
        os.sched_setaffinity(0, affinity)
    return results, versions, contenders
