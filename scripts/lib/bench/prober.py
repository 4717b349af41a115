"""The PING prober of --storm: its own process, timing PING round trips while waiters come and go."""

import subprocess
import sys

from .resp import StormError
from .servers import CPUS, pinned

PING_GAP = 0.001  # seconds between a PONG and the prober's next PING

# The prober: its own process (no GIL shared with the driver), pinned with the driver. It
# sends PING, waits for PONG, sleeps PING_GAP, and so on, until it reads "s" on its stdin (or
# 20 minutes pass); then prints "start end" (time.monotonic, the same clock in every process)
# of every round trip. "h" holds it (it answers "held" once no PING is in flight), "g" lets it go.
PROBER = r"""
import os, select, socket, sys, time
port, gap = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
times, stop = [], time.monotonic() + 1200


def orders(wait):
    if not wait and not select.select([0], [], [], 0)[0]:
        return b""
    return os.read(0, 16) or b"s"  # stdin closed: stop


print("ready", flush=True)
while time.monotonic() < stop:
    got = orders(False)
    while got.endswith(b"h"):
        print("held", flush=True)
        got = orders(True)
    if b"s" in got:
        break
    start = time.monotonic()
    s.sendall(b"PING\r\n")
    got = b""
    while not got.endswith(b"\r\n"):
        chunk = s.recv(64)
        if not chunk:
            sys.exit("prober: connection closed")
        got += chunk
    end = time.monotonic()
    if got != b"+PONG\r\n":
        sys.exit(f"prober: {got!r}")
    times.append((start, end))
    if gap:
        time.sleep(gap)
sys.stdout.write("".join(f"{a:.6f} {b:.6f}\n" for a, b in times))
"""


class Prober:
    def __init__(self, port):
        self.proc = subprocess.Popen(pinned(CPUS["client"], [sys.executable, "-c", PROBER, str(port),
                                                             str(PING_GAP)]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.kill()
            raise StormError("the prober did not start")

    def hold(self):
        self.proc.stdin.write("h")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "held":
            raise StormError("the prober did not hold")

    def go(self):
        self.proc.stdin.write("g")
        self.proc.stdin.flush()

    def stop(self):
        """[(start, end)] of every PING."""
        out, _ = self.proc.communicate("s", timeout=60)
        if self.proc.returncode != 0:
            raise StormError(f"the prober failed (exit {self.proc.returncode})")
        return [tuple(map(float, line.split())) for line in out.splitlines()]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def worst_ping(pings, since, until):
    """The longest round trip, in ms, of the PINGs in flight at some moment in [since, until]."""
    return max(((end - start) * 1000 for start, end in pings if end >= since and start <= until),
               default=float("nan"))
