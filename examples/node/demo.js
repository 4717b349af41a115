// CL.THROTTLE from Node.js with ioredis: a burst, a limited call with its retry_after, a peek.
// Works with or without the module (limiter.js picks the module's command, the Redis Functions
// library or the script). Reads REDIS_URL (default redis://127.0.0.1:6379). Prints what
// happened in plain words and exits with status 1 if a reply is not what it should be.
"use strict";

const Redis = require("ioredis");
const { randomUUID } = require("node:crypto");
const { connectLimiter } = require("./limiter");

function expect(what, actual, expected) {
  if (actual !== expected) {
    console.error(`FAILED: ${what}: got ${actual}, expected ${expected}`);
    process.exit(1);
  }
}

async function main() {
  const redis = new Redis(process.env.REDIS_URL || "redis://127.0.0.1:6379");
  const key = `example:node:${randomUUID()}`; // a fresh limiter each run
  try {
    const limiter = await connectLimiter(redis);
    console.log(`limiter: ${limiter.via}`);
    // [limited, limit, remaining, retryAfter, resetAfter]
    const throttle = (key, quantity = 1) => limiter.throttle(key, 2, 6, 60, quantity);
    // 3 requests at once (max_burst 2), then 1 every 10 seconds (6 per minute).
    for (let i = 0; i < 3; i++) {
      const [limited, limit, remaining, , resetAfter] = await throttle(key);
      expect(`request ${i + 1} allowed`, limited, 0);
      expect(`request ${i + 1} remaining`, remaining, 2 - i);
      console.log(`request ${i + 1}: allowed, ${remaining} of ${limit} left, full again in ${resetAfter} s`);
    }
    const [limited, , , retryAfter] = await throttle(key);
    expect("request 4 limited", limited, 1);
    expect("request 4 retry_after", retryAfter, 10);
    console.log(`request 4: limited, retry in ${retryAfter} s`);

    const before = await redis.get(key);
    const [peekLimited, limit, remaining, , resetAfter] = await throttle(key, 0);
    expect("peek not limited", peekLimited, 0);
    expect("peek remaining", remaining, 0);
    expect("peek wrote nothing", await redis.get(key), before);
    console.log(`peek: ${remaining} of ${limit} left, full again in ${resetAfter} s, nothing spent`);
    await redis.del(key);
    console.log("node example: all replies as expected");
  } finally {
    redis.disconnect();
  }
}

main().catch((error) => {
  console.error(`FAILED: ${error.message}`);
  process.exit(1);
});
