"""Starts server.py (or the server command given as arguments, e.g. the Rust client's axum
example) on a free loopback port and checks with real HTTP requests that the rate-limit headers
and the 429 appear exactly when they should. Exits 1 on a mismatch.
Needs REDIS_URL pointing to a Redis or Valkey, with the module or without it."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

PER_MINUTE = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    """(status, headers) of a GET, 4xx included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def expect(what, actual, expected):
    if actual != expected:
        print(f"FAILED: {what}: got {actual!r}, expected {expected!r}")
        sys.exit(1)


def main():
    port = free_port()
    env = dict(os.environ, PORT=str(port), PER_MINUTE=str(PER_MINUTE), PER_DAY="100",
               KEY_PREFIX=f"check:{uuid.uuid4()}")
    command = sys.argv[1:] or [sys.executable, str(Path(__file__).with_name("server.py"))]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        print(server.stdout.readline().strip())  # "listening on ... limiter: ..."
        url = f"http://127.0.0.1:{port}/"
        for i in range(PER_MINUTE):
            status, headers = get(url)
            expect(f"request {i + 1} status", status, 200)
            for prefix in ("RateLimit-", "X-RateLimit-"):
                expect(f"request {i + 1} {prefix}Limit", headers[prefix + "Limit"], str(PER_MINUTE))
                expect(f"request {i + 1} {prefix}Remaining", headers[prefix + "Remaining"],
                       str(PER_MINUTE - 1 - i))
                # reset_after is the longest over both limits: the day's, 864 s a request.
                expect(f"request {i + 1} {prefix}Reset", headers[prefix + "Reset"], str(864 * (i + 1)))
            expect(f"request {i + 1} Retry-After", headers.get("Retry-After"), None)
            print(f"request {i + 1}: 200, {headers['RateLimit-Remaining']} left")
        status, headers = get(url)
        expect("request 6 status", status, 429)
        expect("request 6 Retry-After", headers.get("Retry-After"), "12")
        expect("request 6 RateLimit-Remaining", headers["RateLimit-Remaining"], "0")
        expect("request 6 X-RateLimit-Reset", headers["X-RateLimit-Reset"], str(864 * PER_MINUTE))
        print("request 6: 429, Retry-After 12")
        print("http example: headers and 429 as expected")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
