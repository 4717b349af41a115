"""CL.THROTTLE from Python with redis-py: a burst, a limited call with its retry_after, a peek.

Works with or without the module (gcra_limiter.Limiter picks the module's command, the
Redis Functions library or the script). Reads REDIS_URL (default redis://127.0.0.1:6379).
Prints what happened in plain words and exits with status 1 if a reply is not what it should be.
"""

import os
import sys
import uuid

import redis

from gcra_limiter import Limiter


def expect(what, actual, expected):
    if actual != expected:
        print(f"FAILED: {what}: got {actual}, expected {expected}")
        sys.exit(1)


def main():
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    limiter = Limiter(client)
    print(f"limiter: {limiter.via}")
    key = f"example:python:{uuid.uuid4()}"  # a fresh limiter each run
    # 3 requests at once (max_burst 2), then 1 every 10 seconds (6 per minute).
    for i in range(3):
        limited, limit, remaining, _, reset_after = limiter.throttle(key, 2, 6, 60)
        expect(f"request {i + 1} allowed", limited, 0)
        expect(f"request {i + 1} remaining", remaining, 2 - i)
        print(f"request {i + 1}: allowed, {remaining} of {limit} left, full again in {reset_after} s")

    limited, _, remaining, retry_after, _ = limiter.throttle(key, 2, 6, 60)
    expect("request 4 limited", limited, 1)
    expect("request 4 retry_after", retry_after, 10)
    print(f"request 4: limited, retry in {retry_after} s")

    before = client.get(key)
    limited, limit, remaining, _, reset_after = limiter.throttle(key, 2, 6, 60, quantity=0)
    expect("peek not limited", limited, 0)
    expect("peek remaining", remaining, 0)
    expect("peek wrote nothing", client.get(key), before)
    print(f"peek: {remaining} of {limit} left, full again in {reset_after} s, nothing spent")
    client.delete(key)
    print("python example: all replies as expected")


if __name__ == "__main__":
    main()
