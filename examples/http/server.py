"""A small HTTP API that rate-limits each client IP with CL.THROTTLEALL: a per-minute and a
per-day limit, checked atomically. Every response carries the IETF draft RateLimit-* and the
widespread X-RateLimit-* headers; a limited request gets 429 with Retry-After.

Python standard library + redis-py, with or without the module (../python/gcra_limiter.py
uses the Redis Functions library when the module is not loaded). Environment: REDIS_URL
(redis://127.0.0.1:6379), HOST (127.0.0.1), PORT (8080), PER_MINUTE (5), PER_DAY (100),
KEY_PREFIX (ratelimit). Run: python3 server.py, then curl -i http://127.0.0.1:8080/
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from gcra_limiter import Limiter  # noqa: E402  (found through the path above)

LIMITER = Limiter(redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")))
PER_MINUTE = int(os.environ.get("PER_MINUTE", "5"))
PER_DAY = int(os.environ.get("PER_DAY", "100"))
PREFIX = os.environ.get("KEY_PREFIX", "ratelimit")


def check(client_ip):
    """(limited, limit, remaining, retry_after, reset_after) for one request of client_ip."""
    # A hash tag keeps one client's keys in one Redis Cluster slot.
    minute_key = f"{PREFIX}:{{{client_ip}}}:minute"
    day_key = f"{PREFIX}:{{{client_ip}}}:day"
    # max_burst = limit - 1: the whole budget may be used at once, then it refills evenly.
    return LIMITER.throttle_all([
        (minute_key, PER_MINUTE - 1, PER_MINUTE, 60),
        (day_key, PER_DAY - 1, PER_DAY, 86400),
    ])


def rate_limit_headers(limit, remaining, reset_after):
    headers = {"Limit": limit, "Remaining": remaining, "Reset": reset_after}
    return {f"{prefix}{name}": str(value)
            for name, value in headers.items()
            for prefix in ("RateLimit-", "X-RateLimit-")}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        limited, limit, remaining, retry_after, reset_after = check(self.client_address[0])
        headers = rate_limit_headers(limit, remaining, reset_after)
        if limited:
            status, body = 429, {"error": "too many requests"}
            # -1: this request can never fit; there is no time after which to retry.
            if retry_after >= 0:
                headers["Retry-After"] = str(retry_after)
                body["retry_after_seconds"] = retry_after
        else:
            status, body = 200, {"hello": "world", "remaining": remaining}
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass  # quiet: one line per request is noise in tests


def main():
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"listening on http://{host}:{port}/ ({PER_MINUTE}/minute, {PER_DAY}/day per client IP, "
          f"limiter: {LIMITER.via})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
