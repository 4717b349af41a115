"""CL.THROTTLE and CL.THROTTLEALL with or without the module, behind the same two calls.

Limiter(client) asks the server for the module's command (COMMAND INFO). Without it, it loads
the Redis Functions library lua/gcra.lua (FUNCTION LOAD REPLACE) and calls FCALL; where the
FUNCTION command is missing (Redis before 7.0) or refused, it runs the same file as a script
with EVALSHA. The replies are the same five integers every way.
"""

from pathlib import Path

import redis

LIBRARY = Path(__file__).resolve().parents[2] / "lua" / "gcra.lua"


class Limiter:
    def __init__(self, client, library=LIBRARY):
        self.client = client
        # redis-py's reply parser for "COMMAND" fails on the nil of an unknown command;
        # "COMMAND INFO" as one name is sent as two words and returned as it is.
        if client.execute_command("COMMAND INFO", "CL.THROTTLE")[0] is not None:
            self.via = "module"
            return
        code = Path(library).read_text()
        try:
            client.execute_command("FUNCTION", "LOAD", "REPLACE", code)
            self.via = "function"
        except redis.ResponseError:
            # The script form is the library without its first line (#!lua name=gcra);
            # register_script reloads it if the server forgets it (NOSCRIPT).
            self.script = client.register_script(code.split("\n", 1)[1])
            self.via = "script"

    def throttle(self, key, max_burst, count, period, quantity=1, ms=False):
        """(limited, limit, remaining, retry_after, reset_after) for one limit."""
        args = [max_burst, count, period, quantity] + (["MS"] if ms else [])
        if self.via == "module":
            return tuple(self.client.execute_command("CL.THROTTLE", key, *args))
        return self._call("cl_throttle", [key], args)

    def throttle_all(self, limits, quantity=1, ms=False):
        """The same five integers for one request against several (key, max_burst, count,
        period) limits: allowed only if all allow it."""
        options = [quantity] + (["MS"] if ms else [])
        if self.via == "module":
            flat = [item for limit in limits for item in limit]
            return tuple(self.client.execute_command("CL.THROTTLEALL", len(limits), *flat, *options))
        keys = [key for key, *_ in limits]
        args = [item for _, *rest in limits for item in rest] + options
        return self._call("cl_throttleall", keys, args)

    def _call(self, entry, keys, args):
        if self.via == "function":
            return tuple(self.client.fcall(entry, len(keys), *keys, *args))
        # The script's first argument after the keys names the entry.
        return tuple(self.script(keys=keys, args=[entry, *args]))
