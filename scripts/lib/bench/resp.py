"""RESP2 over plain sockets for --storm: commands encoded, replies parsed, a control connection."""

import socket


class StormError(Exception):
    """A storm went wrong: a connection closed, an error reply, a waiter answered wrongly."""


class RespError(str):
    pass


class Incomplete(Exception):
    pass


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def parse_reply(buf, pos=0):
    """One RESP2 reply in buf at pos: (value, the position after it); Incomplete if it has
    not all come. An error reply is a RespError."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, line, pos = buf[pos:pos + 1], bytes(buf[pos + 1:end]), end + 2
    if kind == b"+":
        return line.decode(), pos
    if kind == b"-":
        return RespError(line.decode()), pos
    if kind == b":":
        return int(line), pos
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise Incomplete
        return bytes(buf[pos:pos + size]), pos + size + 2
    if kind == b"*":
        count, items = int(line), []
        if count < 0:
            return None, pos
        for _ in range(count):
            item, pos = parse_reply(buf, pos)
            items.append(item)
        return items, pos
    raise StormError(f"not a RESP2 reply: {bytes(buf[:80])!r}")


class Conn:
    """A plain blocking connection for control commands (bounded by a timeout)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def call(self, *args):
        self.sock.sendall(resp(args))
        while True:
            try:
                value, pos = parse_reply(self.buf)
                del self.buf[:pos]
                break
            except Incomplete:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise StormError(f"{args[0]}: connection closed")
                self.buf += chunk
        if isinstance(value, RespError):
            raise StormError(f"{' '.join(map(str, args))[:80]} -> {value}")
        return value

    def info(self, section):
        text = self.call("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def close(self):
        self.sock.close()
