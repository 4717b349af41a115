"""CL.THROTTLE and CL.THROTTLEALL with or without the module, behind the same two calls.

Limiter(client) asks the server for the module's command (COMMAND INFO). Without it, it loads
the Redis Functions library lua/gcra.lua (FUNCTION LOAD REPLACE) and calls FCALL; where the
FUNCTION command is missing (Redis before 7.0) or refused, it runs the library's script form,
lua/gcra_script.lua, with EVALSHA. The replies are the same five integers every way.
"""

from pathlib import Path

import redis

LIBRARY = Path(__file__).resolve().parents[2] / "lua" / "gcra.lua"
SCRIPT = LIBRARY.with_name("gcra_script.lua")


class Limiter:
    def __init__(self, client, library=LIBRARY, script=SCRIPT):
        self.client = client
        # redis-py's reply parser for "COMMAND" fails on the nil of an unknown command;
        # "COMMAND INFO" as one name is sent as two words and returned as it is.
        if client.execute_command("COMMAND INFO", "CL.THROTTLE")[0] is not None:
            self.via = "module"
            return
        try:
            client.execute_command("FUNCTION", "LOAD", "REPLACE", Path(library).read_text())
            self.via = "function"
        except redis.ResponseError:
            # register_script reloads the script if the server forgets it (NOSCRIPT).
            self.script = client.register_script(Path(script).read_text())
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
