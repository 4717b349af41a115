// CL.THROTTLE and CL.THROTTLEALL with or without the module, behind the same two calls.
// connectLimiter asks the server for the module's command (COMMAND INFO). Without it, it loads
// the Redis Functions library lua/gcra.lua (FUNCTION LOAD REPLACE) and calls FCALL; where the
// FUNCTION command is missing (Redis before 7.0) or refused, it runs the library's script form,
// lua/gcra_script.lua, with EVALSHA. The replies are the same five integers every way.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const LIBRARY = path.join(__dirname, "..", "..", "lua", "gcra.lua");
const SCRIPT = path.join(__dirname, "..", "..", "lua", "gcra_script.lua");

async function connectLimiter(redis, library = LIBRARY, script = SCRIPT) {
  let via = "module";
  const [info] = await redis.call("COMMAND", "INFO", "CL.THROTTLE");
  if (info === null) {
    try {
      await redis.call("FUNCTION", "LOAD", "REPLACE", fs.readFileSync(library, "utf8"));
      via = "function";
    } catch (error) {
      // ioredis sends the script with EVALSHA and reloads it if the server forgot it (NOSCRIPT).
      redis.defineCommand("gcraScript", { lua: fs.readFileSync(script, "utf8") });
      via = "script";
    }
  }
  // entry: the function's name; keys and args: its KEYS and ARGV.
  const call = (entry, keys, args) =>
    via === "function"
      ? redis.call("FCALL", entry, keys.length, ...keys, ...args)
      : redis.gcraScript(keys.length, ...keys, entry, ...args);
  return {
    via,
    // [limited, limit, remaining, retryAfter, resetAfter]
    throttle(key, maxBurst, count, period, quantity = 1) {
      const args = [maxBurst, count, period, quantity];
      return via === "module" ? redis.call("CL.THROTTLE", key, ...args) : call("cl_throttle", [key], args);
    },
    // limits: [[key, maxBurst, count, period], ...]; allowed only if every limit allows it.
    throttleAll(limits, quantity = 1) {
      if (via === "module") {
        return redis.call("CL.THROTTLEALL", limits.length, ...limits.flat(), quantity);
      }
      const keys = limits.map(([key]) => key);
      const args = limits.flatMap(([, ...rest]) => rest);
      return call("cl_throttleall", keys, [...args, quantity]);
    },
  };
}

module.exports = { connectLimiter };
