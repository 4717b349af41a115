-- GCRA in Lua with CL.THROTTLE's arguments and reply, for comparison with the module.
-- KEYS[1] = key; ARGV = max_burst, count, period (s), [quantity]. Times are integer
-- microseconds (Lua numbers are doubles: nanoseconds since the epoch would not be exact).
local max_burst = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local quantity = tonumber(ARGV[4] or "1")

local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = math.floor(period * 1000000 / count)
local tolerance = interval * (max_burst + 1)
local increment = interval * quantity

local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + increment
local diff = now - (new_tat - tolerance)

local limited, retry_us, ttl = 0, -1, 0
if quantity > 0 and diff < 0 then
  limited = 1
  if increment <= tolerance then retry_us = -diff end
  ttl = tat - now
else
  if new_tat < now then new_tat = now end
  ttl = new_tat - now
  if quantity ~= 0 then
    if new_tat > now then
      redis.call("SET", KEYS[1], string.format("%d", new_tat), "PXAT",
        string.format("%d", math.ceil(new_tat / 1000)))
    else
      redis.call("DEL", KEYS[1])
    end
  end
end

local remaining = 0
if tolerance - ttl >= 0 then remaining = math.floor((tolerance - ttl) / interval) end
local function seconds(us)
  return math.ceil(math.floor(us / 1000) / 1000)
end
local retry = -1
if retry_us >= 0 then retry = seconds(retry_us) end
return {limited, max_burst + 1, remaining, retry, seconds(ttl)}
