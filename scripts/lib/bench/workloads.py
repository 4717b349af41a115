"""What is measured: the workloads (keys and limits) and the contenders (the commands compared)."""

from dataclasses import dataclass, field

from .paths import FUNCTION, LUA, SCRIPT

PAD = 12  # redis-benchmark writes each __rand_int__ as 12 zero-padded digits
USERS = 100_000

# A limit the hot key never reaches in a run (1M per second, a burst of 1M): the allowed path.
ALLOWED = ["1000000", "1000000", "1"]
# One token a day: after the first call, every call is limited.
LIMITED = ["0", "1", "86400"]
# Realistic limits for 100,000 users: 1,000 an hour with bursts of 100 (a key lives up to 6
# minutes), and for CL.THROTTLEALL also 10,000 a day (bursts of 1,000) and 50,000 a week.
HOURLY = ["99", "1000", "3600"]
DAILY = ["999", "10000", "86400"]
WEEKLY = ["9999", "50000", "604800"]


@dataclass
class Preload:
    """Limiter keys created before each run: prefix + 12-digit number + suffix, for 0..n-1.
    Every `every`-th user (number % every == 0) is far over the limit (its TAT is 10 minutes
    beyond the tolerance: limited for the whole run); the others have used half their burst
    (allowed for the whole run, and their keys live for minutes)."""
    prefix: str
    suffix: str
    limit: list
    every: int = 0


@dataclass
class Workload:
    id: str
    label: str
    limits: list  # [(key, [max_burst, count, period])]: one, or several for CL.THROTTLEALL
    options: list = field(default_factory=list)  # extra redis-benchmark options
    preload: list = field(default_factory=list)  # [Preload]
    px: str = "60000"  # the expiry of the SET PX baseline, in ms

    @property
    def key(self):
        return self.limits[0][0]


WORKLOADS = [
    Workload("hot-allowed", "hot key, allowed", [("bench:hot", ALLOWED)]),
    Workload("hot-limited", "hot key, limited", [("bench:limited", LIMITED)]),
    Workload("users", f"{USERS:,} users, 1 in 10 over the limit",
             [("u:__rand_int__", HOURLY)], ["-r", str(USERS)],
             [Preload("u:", "", HOURLY, every=10)]),
    Workload("all-hot", "hot user, 3 limits, allowed",
             [(f"bench:hot:{n}", ALLOWED) for n in (1, 2, 3)]),
    Workload("all-users", f"{USERS:,} users, 3 limits, 1 in 10 over the hourly one",
             [("u:__rand_int__:h", HOURLY), ("u:__rand_int__:d", DAILY),
              ("u:__rand_int__:w", WEEKLY)], ["-r", str(USERS)],
             [Preload("u:", ":h", HOURLY, every=10), Preload("u:", ":d", DAILY),
              Preload("u:", ":w", WEEKLY)]),
    # Today's "random keys" case: each key lives about 1 ms, so nearly every call creates its
    # key and the expiry cycle deletes it. SET PX gets the same 1 ms, to pay the same churn.
    Workload("churn", f"{USERS:,} random keys living 1 ms (key churn)",
             [("u:__rand_int__", ALLOWED)], ["-r", str(USERS)], px="1"),
]

# --- Contenders --------------------------------------------------------------------------


@dataclass
class Contender:
    """label; the server it runs on ("main" also holds the baselines and Lua); the unit of
    the TATs it stores (ns or us, for preloaded keys); argv(workload, loaded) -> one call or
    None where it does not apply; setup: a command sent once to its server, whose reply is
    passed to argv as `loaded` (a script's SHA)."""
    label: str
    server: str
    unit: str
    argv: object
    setup: list = None
    baseline: bool = False  # SET and SET PX: the ratios are taken against these
    share: float = 1  # timing: the part of --requests it runs (slow contenders run fewer)


def throttle(w, _):
    if len(w.limits) == 1:
        return ["CL.THROTTLE", w.key, *w.limits[0][1]]
    return ["CL.THROTTLEALL", str(len(w.limits)), *(a for key, limit in w.limits for a in (key, *limit))]


def fcall(w, _):
    """The module-free library, lua/gcra.lua: FCALL cl_throttle 1 key limit, or
    FCALL cl_throttleall n keys... limits...."""
    if len(w.limits) == 1:
        return ["FCALL", "cl_throttle", "1", w.key, *w.limits[0][1]]
    return ["FCALL", "cl_throttleall", str(len(w.limits)), *(key for key, _ in w.limits),
            *(a for _, limit in w.limits for a in limit)]


def script(w, sha):
    """The library's script form (lua/gcra_script.lua), through EVALSHA:
    the keys, then the entry's name, then its arguments."""
    keys = [key for key, _ in w.limits]
    entry = "cl_throttle" if len(w.limits) == 1 else "cl_throttleall"
    return ["EVALSHA", sha, str(len(keys)), *keys, entry, *(a for _, limit in w.limits for a in limit)]


def one_limit(build):
    """For contenders that have no CL.THROTTLEALL."""
    return lambda w, loaded: build(w, loaded) if len(w.limits) == 1 else None


CONTENDERS = [
    Contender("SET", "main", "ns", lambda w, _: ["SET", w.key, "v"], baseline=True),
    Contender("SET PX", "main", "ns", lambda w, _: ["SET", w.key, "v", "PX", w.px], baseline=True),
    Contender("CL.THROTTLE", "main", "ns", throttle),
    Contender("CL.THROTTLE (baseline)", "baseline", "ns", throttle),
    Contender("Lua EVALSHA", "main", "us",
              one_limit(lambda w, sha: ["EVALSHA", sha, "1", w.key, *w.limits[0][1]]),
              setup=["SCRIPT", "LOAD", LUA.read_text()], share=0.25),
    Contender("FCALL", "main", "ns", fcall, setup=["FUNCTION", "LOAD", "REPLACE", FUNCTION.read_text()],
              share=0.25),
    Contender("gcra.lua EVALSHA", "main", "ns", script,
              setup=["SCRIPT", "LOAD", SCRIPT.read_text()], share=0.25),
    Contender("redis-cell", "cell", "ns", one_limit(throttle)),
]
