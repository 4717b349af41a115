-- lua/gcra.lua as a script for EVAL/EVALSHA, made by tests/function.rs: edit that file, not this one.
--[[
redis-gcra without the module: CL.THROTTLE and CL.THROTTLEALL as a Redis Functions library
(Redis 7.0+, Valkey 8), and as a script for EVAL/EVALSHA: lua/gcra_script.lua, made from it.

  FUNCTION LOAD REPLACE <this file>
  FCALL cl_throttle 1 key max_burst count period [quantity] [options]
  FCALL cl_throttleall n key1 .. keyn max_burst1 count1 period1 .. max_burstn countn periodn [quantity] [options]
  FCALL_RO cl_peek 1 key max_burst count period [quantity] [MS]   (CL.PEEK: a reply, no write)
  EVALSHA sha numkeys keys.. cl_throttle|cl_throttleall|cl_peek arguments..

  options: MS, and one of BLOCK <ms> | ATMOST | SOFT <hard_factor>, as the module's.

Same replies, error texts, stored value (the TAT in decimal nanoseconds, expiring at the TAT
rounded up to the millisecond) and replicated effects (SET key tat PXAT ms / DEL key) as the
module, whose files this one follows section by section: decimal.rs, error.rs, args.rs,
gcra.rs, modes.rs, reply.rs, store.rs, commands/. What differs: "now" comes from TIME
(microseconds); max_burst stops at 2^53 - 1, because Redis turns a Lua number into an integer
reply and Lua numbers are exact only up to 2^53; BLOCK answers at once, as the module does
where a client cannot wait (a function cannot); SOFT draws from its own generator.

Every name is local: Redis refuses global variables in functions and scripts. While the
library loads, only `redis` is reachable (the standard library, string, math and the rest,
is there when a function runs), so the top level only defines functions and literal tables.
Tests add entries with a given "now" to the exact path (tests/function_differential.rs, at
the line that says so); the shipped library has none.
]]

-- The fast path -------------------------------------------------------------------------------
-- Most calls are the plain form with small numbers: limits whose tolerance is below 2^50 ns
-- (13 days), a quantity of 0 or more, TATs less than 10^6 s (11.5 days) ahead of now. Then
-- every value the algorithm needs is an integer below 2^51, which a double holds exactly,
-- as are the sums and differences below; absolute times are kept as seconds and nanoseconds.
-- `fast` decides those calls with Lua's own arithmetic. Any other call it declines (returns
-- nil) before it writes anything, and the exact path, the rest of this file, answers it:
-- BLOCK, ATMOST, SOFT, MS in other spellings, arguments with a sign, with more than 15
-- digits or past those ranges, invalid ones (the exact path says why), a key of another type
-- or holding anything but a TAT of 10 to 19 digits, a TAT or "now" near 2^63 ns.
--
-- Division: for integers 0 <= a < 2^52 and 1 <= b < 2^53 the double a / b is never rounded
-- up to the next integer k (the gap below k, at least 1 / b, would have to be under k / 2^53,
-- so k * b > 2^53 and a >= (k - 1) * b > 2^52, or k = 1 and b > 2^54). So a % b, which Lua
-- computes as a - floor(a / b) * b, is the exact remainder, and (a - a % b) / b the quotient.
--
-- It is written for speed: as a script, this file runs at every call, so the fast path is one
-- function, and its constants are written out (a named one would cost an instruction more at
-- every use): 2^50 = 1125899906842624, a second = 1000000000 ns, a millisecond = 1000000 ns,
-- i64::MAX ns = 9223372036 s and 854775807 ns.


-- `entry` (cl_throttle, cl_throttleall or cl_peek) in the plain form: its reply, or nil.
-- args[at] is the first argument after the keys. Now is read from TIME unless given (tests).
-- The exact path's `decide_all`, limit by limit, with every time taken relative to now.
-- The functions it calls are arguments: as the library loads, only part of `redis` is
-- reachable; as it runs, a global costs a lookup, and as a script, an upvalue costs an
-- allocation at every call. `parsed` (FCALL only: a script's locals last one call) holds the
-- limits last read, by position, as { max_burst, count, period, interval, capacity }: limits
-- are usually the caller's constants, and reading one costs more than the arithmetic.
-- `ms_as_number` (Redis 7.2 and later, and Valkey, which print a whole number given to
-- redis.call as integer digits in C) passes the expiry to SET as a number: cheaper there than
-- string.format, dearer on Redis 7.0, which prints it with "%.17g" (the same digits). Redis
-- 7.2.0-7.2.4 print it with fpconv_dtoa alone, in exponent form when it ends in 8 zeros or
-- more (1.7646e+12, which SET refuses): those expiries are formatted everywhere.
local function fast(keys, args, at, entry, find, byte, format, call, pcall_redis, ms_as_number, parsed, now_s,
    now_ns)
  local n = #keys
  local extra = #args - at + 1 - 3 * n -- [quantity] [MS]
  local quantity, in_ms = 1, false
  if extra ~= 0 then
    local last = args[#args]
    if last == 'MS' or last == 'ms' then
      in_ms, extra = true, extra - 1
    end
    local text = args[at + 3 * n]
    if extra < 0 or extra > 1 or (extra == 1 and (#text > 15 or not find(text, '^%d+$'))) then
      return nil
    elseif extra == 1 then
      quantity = text + 0
    end
  end
  if n ~= 1 then
    -- Several limits on one key would race on one TAT: the exact path refuses them.
    if n == 0 or entry ~= 'cl_throttleall' then
      return nil
    end
    for i = 2, n do
      for j = 1, i - 1 do
        if keys[i] == keys[j] then
          return nil
        end
      end
    end
  end
  if not now_s then
    local time = call('TIME') -- seconds and microseconds
    now_s, now_ns = time[1] + 0, time[2] * 1000
  end
  -- The reply as charged, and (with several limits) as the limits stand (quantity 0): what
  -- they report when one of them is limited and nothing is charged.
  local limited, never, retry = false, false, 0
  local capacity, remaining, reset = 0, nil, 0
  local capacity_as_is, remaining_as_is, reset_as_is = 0, nil, 0
  local tat_s, tat_ns, tats = nil, nil, nil -- the new TAT (with several limits: tats)
  for i = 1, n do
    -- The limit: max_burst and count of 1 to 15 digits, a period of up to 6 digits and 9
    -- decimals; then period_ns and count are below 10^15 < 2^50.
    local base = at + 3 * i - 3
    local max_burst, count, period = args[base], args[base + 1], args[base + 2]
    local interval, limit_capacity
    local seen = parsed and parsed[i]
    -- (Equal strings are one object in Lua: these are pointer comparisons.)
    if seen and seen[1] == max_burst and seen[2] == count and seen[3] == period then
      interval, limit_capacity = seen[4], seen[5]
    else
      if #max_burst > 15 or #count > 15 then
        return nil
      end
      -- One match for the three (cheaper than three): a space or an empty argument among
      -- them would make more or fewer than two spaces, or one at an end.
      local text = max_burst .. ' ' .. count .. ' ' .. period
      local period_ns
      if #period < 7 and find(text, '^%d+ %d+ %d+$') then
        period_ns = period * 1000000000
      else
        local _, _, whole, fraction = find(text, '^%d+ %d+ (%d+)%.(%d+)$')
        if not whole or #whole > 6 or #fraction > 9 then
          return nil
        end
        -- A fraction of k digits: fraction * 10^(9 - k) ns.
        period_ns = whole * 1000000000 + fraction * 10 ^ (9 - #fraction)
      end
      local per = count + 0
      if per < 1 or period_ns < 1 then
        return nil
      end
      interval = (period_ns - period_ns % per) / per
      limit_capacity = max_burst + 1
      if parsed and i <= 8 then
        parsed[i] = { max_burst, count, period, interval, limit_capacity }
      end
    end
    -- Products of integers are exact below 2^50, and a true product of 2^50 or more never
    -- rounds below it (a double).
    local tolerance, increment = interval * limit_capacity, interval * quantity
    if interval < 1 or tolerance >= 1125899906842624 or increment >= 1125899906842624 then
      return nil
    end
    -- The TAT, as how far it is ahead of now (0 when absent or not ahead). An error reply
    -- (another type) is a table, of length 0.
    local ahead, tat = 0, pcall_redis('GET', keys[i])
    if tat then
      -- 19 digits (a TAT since 2001; others take the exact path), checked by one match,
      -- then read byte by byte (cheaper than cutting it in two and converting the halves).
      if #tat ~= 19 or not find(tat, '^%d+$') then
        return nil
      end
      local a, b, c, d, e, f, g, h, j, k, l, m, o, p, q, r, s, t, u = byte(tat, 1, 19)
      -- (The codes less 48 each: 48 * 1111111111 and 48 * 111111111.)
      local seconds = a * 1000000000 + b * 100000000 + c * 10000000 + d * 1000000 + e * 100000
        + f * 10000 + g * 1000 + h * 100 + j * 10 + k - 53333333328
      if seconds >= 9223372036 then
        return nil
      end
      seconds = seconds - now_s
      if seconds >= 1000000 then
        return nil
      elseif seconds >= 0 then
        local nanos = l * 100000000 + m * 10000000 + o * 1000000 + p * 100000 + q * 10000
          + r * 1000 + s * 100 + t * 10 + u - 5333333328
        ahead = seconds * 1000000000 + (nanos - now_ns)
        if ahead < 0 then
          ahead = 0
        end
      end
    end
    -- gcra.rs's decide.
    local new_ahead = ahead + increment
    local allow_at = new_ahead - tolerance
    local ttl = new_ahead
    if quantity > 0 and allow_at > 0 then
      limited, ttl = true, ahead
      if increment > tolerance then
        never = true
      elseif allow_at > retry then
        retry = allow_at
      end
    elseif quantity > 0 then
      -- The new TAT, which must fit in 64 bits (even for cl_peek, as in the module).
      local nanos = now_ns + new_ahead
      local seconds = now_s + (nanos - nanos % 1000000000) / 1000000000
      nanos = nanos % 1000000000
      if seconds >= 9223372036 and (seconds > 9223372036 or nanos > 854775807) then
        return nil
      elseif n == 1 then
        tat_s, tat_ns = seconds, nanos
      else
        tats = tats or {}
        tats[2 * i - 1], tats[2 * i] = seconds, nanos
      end
    end
    local headroom = tolerance - ttl
    local left = headroom >= 0 and (headroom - headroom % interval) / interval or 0
    if not remaining or left < remaining then
      capacity, remaining = limit_capacity, left
    end
    if ttl > reset then
      reset = ttl
    end
    if n > 1 then
      headroom = tolerance - ahead
      left = headroom >= 0 and (headroom - headroom % interval) / interval or 0
      if not remaining_as_is or left < remaining_as_is then
        capacity_as_is, remaining_as_is = limit_capacity, left
      end
      if ahead > reset_as_is then
        reset_as_is = ahead
      end
    end
  end
  if limited then
    if n > 1 then
      capacity, remaining, reset = capacity_as_is, remaining_as_is, reset_as_is
    end
  elseif quantity > 0 and entry ~= 'cl_peek' then
    -- SET key <tat> PXAT <tat in ms, rounded up>, as the module writes it.
    for i = 1, n do
      if n > 1 then
        tat_s, tat_ns = tats[2 * i - 1], tats[2 * i]
      end
      local ms = tat_s * 1000 + (tat_ns + 999999 - (tat_ns + 999999) % 1000000) / 1000000
      local text = tat_s > 0 and format('%d%09d', tat_s, tat_ns) or format('%d', tat_ns)
      local expiry = ms_as_number and ms % 100000000 ~= 0 and ms or format('%d', ms)
      call('SET', keys[i], text, 'PXAT', expiry)
    end
  end
  -- The durations: milliseconds rounded up, or redis-cell's seconds (the whole milliseconds,
  -- rounded up to seconds); retry only when limited.
  if in_ms then
    reset = (reset + 999999 - (reset + 999999) % 1000000) / 1000000
  else
    reset = (reset - reset % 1000000) / 1000000
    reset = (reset + 999 - (reset + 999) % 1000) / 1000
  end
  if not limited then
    return { 0, capacity, remaining, -1, reset }
  elseif never then
    return { 1, capacity, remaining, -1, reset }
  elseif in_ms then
    retry = (retry + 999999 - (retry + 999999) % 1000000) / 1000000
  else
    retry = (retry - retry % 1000000) / 1000000
    retry = (retry + 999 - (retry + 999) % 1000) / 1000
  end
  return { 1, capacity, remaining, retry, reset }
end

-- As a script (EVAL/EVALSHA), this whole file runs at every call: the fast path answers
-- before the rest is defined. Redis 6 replicates a script's commands, not the script, only
-- when asked (Redis 7, which has REDIS_VERSION_NUM, always does): the replicas must never
-- see TIME. (The exact path's entries are at the end.)
local server = redis -- (each global looked up once)
if not server.register_function then
  if not server.REDIS_VERSION_NUM and server.replicate_commands then
    server.replicate_commands()
  end
  local text, args = string, ARGV
  local entry = args[1]
  if entry == 'cl_throttle' or entry == 'cl_throttleall' or entry == 'cl_peek' then
    local reply = fast(KEYS, args, 2, entry, text.find, text.byte, text.format, server.call, server.pcall,
      (server.REDIS_VERSION_NUM or 0) >= 459264)
    if reply then
      return reply
    end
  end
end

-- FCALL's fast path: its functions, bound at the first call (see `fast`), and its limits.
local find, byte, format, call, pcall_redis, ms_as_number, parsed
local function bind()
  find, byte, format = string.find, string.byte, string.format
  call, pcall_redis = redis.call, redis.pcall
  ms_as_number = redis.REDIS_VERSION_NUM >= 459264
  parsed = {}
end

-- The exact path ------------------------------------------------------------------------------
-- Everything else. In lua/gcra.lua it is text, compiled when a call first needs it (1.5-2.5 ms,
-- once per library load: FCALL keeps what it returns). Loaded with the library as code,
-- it would sit in the library's heap (70 KB of function prototypes), which Redis's Lua
-- collector walks in steps paid by every call, the fast path's too: 3.5% of a plain call's
-- throughput, measured. A script keeps nothing between calls and would compile it at every call
-- the fast path declines, so in lua/gcra_script.lua, the script form made from lua/gcra.lua by
-- tests/function.rs, the same lines are a function's body. Either returns the entries, by
-- name, and the error for an unknown one.
local function build_exact()
  -- Integers ----------------------------------------------------------------------------------
  -- Lua 5.1 numbers are doubles, exact only up to 2^53, while TATs are nanoseconds since 1970
  -- (about 2^61) and the core's intermediates need up to 127 bits. So an integer has two forms:
  --   * a Lua number when its magnitude is below SMALL (2^51): sums, differences and quotients
  --     of two such numbers are exact, and a product is used only when it is below SMALL too
  --     (checked), so it is exact as well;
  --   * otherwise a table of base-10^7 limbs, least significant first, with no high zero limb,
  --     and a `neg` field. A limb product is below 10^14 and every intermediate below 2^52, so
  --     each double operation on limbs is exact; base 10^7 also makes decimal text a matter of
  --     7-digit pieces.
  -- Every operation returns this canonical form, so a table always holds a magnitude of at
  -- least SMALL, and zero is always the number 0. Most values of a call (intervals, quantities,
  -- durations) are small; absolute times are kept apart (see Times).

  local BASE = 10000000
  local LIMB_DIGITS = 7
  local SMALL = 2251799813685248 -- 2^51
  local SMALL_LIMBS = { 3685248, 5179981, 22 } -- the same, as limbs

  -- Exact floor(a / b) and remainder for integers 0 <= a, b < 2^52: the rounded float quotient
  -- can be one off near an integer, so an exact remainder corrects it.
  local function idiv(a, b)
    local q = math.floor(a / b)
    local r = a - q * b
    if r < 0 then
      q, r = q - 1, r + b
    elseif r >= b then
      q, r = q + 1, r - b
    end
    return q, r
  end

  local function trimmed(limbs)
    local n = #limbs
    while n > 0 and limbs[n] == 0 do
      limbs[n] = nil
      n = n - 1
    end
    return limbs
  end

  -- Magnitudes: limb arrays, signs ignored ----------------------------------------------------

  local function mag_cmp(a, b)
    if #a ~= #b then
      return #a < #b and -1 or 1
    end
    for i = #a, 1, -1 do
      if a[i] ~= b[i] then
        return a[i] < b[i] and -1 or 1
      end
    end
    return 0
  end

  local function mag_add(a, b)
    local sum, carry = {}, 0
    for i = 1, math.max(#a, #b) do
      local s = (a[i] or 0) + (b[i] or 0) + carry
      if s >= BASE then
        sum[i], carry = s - BASE, 1
      else
        sum[i], carry = s, 0
      end
    end
    if carry > 0 then
      sum[#sum + 1] = carry
    end
    return sum
  end

  -- a - b, for |a| >= |b|.
  local function mag_sub(a, b)
    local diff, borrow = {}, 0
    for i = 1, #a do
      local d = a[i] - (b[i] or 0) - borrow
      if d < 0 then
        diff[i], borrow = d + BASE, 1
      else
        diff[i], borrow = d, 0
      end
    end
    return trimmed(diff)
  end

  local function mag_mul(a, b)
    local product = {}
    for i = 1, #a + #b do
      product[i] = 0
    end
    for i = 1, #a do
      local carry = 0
      for j = 1, #b do
        local k = i + j - 1
        carry, product[k] = idiv(product[k] + a[i] * b[j] + carry, BASE)
      end
      product[i + #b] = carry
    end
    return trimmed(product)
  end

  -- a * m and a / m for a single limb 0 < m < BASE.
  local function mag_mul_limb(a, m)
    return mag_mul(a, { m })
  end

  local function mag_divmod_limb(a, m)
    local q, r = {}, 0
    for i = #a, 1, -1 do
      q[i], r = idiv(r * BASE + a[i], m)
    end
    return trimmed(q), trimmed({ r })
  end

  -- Long division of magnitudes, v not zero: Knuth's algorithm D (TAOCP vol. 2, 4.3.1). Its
  -- correctness rests on one fact: a guessed quotient limb is never too small. A guess that
  -- is too large is corrected by adding the divisor back until the remainder is not negative.
  local function mag_divmod(u, v)
    local n = #v
    if mag_cmp(u, v) < 0 then
      return {}, mag_add(u, {})
    end
    if n == 1 then
      return mag_divmod_limb(u, v[1])
    end
    -- D1: scale both so that v's top limb is at least BASE / 2; then a guess from the top limbs
    -- is at most two too large, and at most one after its refinement.
    local d = idiv(BASE, v[n] + 1)
    local un, vn = mag_mul_limb(u, d), mag_mul_limb(v, d)
    for i = #un + 1, #u + 1 do
      un[i] = 0
    end
    local q = {}
    for j = #u - n, 0, -1 do
      -- D3: guess this quotient limb from the top two limbs, refine it with the third.
      local qhat, rhat = idiv(un[j + n + 1] * BASE + un[j + n], vn[n])
      while qhat >= BASE or qhat * vn[n - 1] > rhat * BASE + un[j + n - 1] do
        qhat, rhat = qhat - 1, rhat + vn[n]
        if rhat >= BASE then
          break
        end
      end
      -- D4: subtract qhat * vn from the window un[j + 1 .. j + n + 1].
      local carry, borrow = 0, 0
      for i = 1, n do
        local high, low = idiv(qhat * vn[i] + carry, BASE)
        local t = un[j + i] - low - borrow
        carry = high
        if t < 0 then
          un[j + i], borrow = t + BASE, 1
        else
          un[j + i], borrow = t, 0
        end
      end
      -- The window is now top * BASE^n + its low n limbs, negative while qhat is too large.
      local top = un[j + n + 1] - carry - borrow
      while top < 0 do
        -- D6: the guess was too large (rare, and by one after the refinement): add vn back.
        qhat = qhat - 1
        local c = 0
        for i = 1, n do
          local s = un[j + i] + vn[i] + c
          if s >= BASE then
            un[j + i], c = s - BASE, 1
          else
            un[j + i], c = s, 0
          end
        end
        top = top + c
      end
      un[j + n + 1] = top
      q[j + 1] = qhat
    end
    -- D8: the remainder is the low n limbs, scaled back.
    local low = {}
    for i = 1, n do
      low[i] = un[i]
    end
    local r = mag_divmod_limb(trimmed(low), d)
    return trimmed(q), r
  end

  -- Between the two forms ---------------------------------------------------------------------

  -- The canonical form of a magnitude with a sign: a number below SMALL, else the limbs.
  local function canonical(limbs, neg)
    trimmed(limbs)
    if #limbs < 3 or (#limbs == 3 and mag_cmp(limbs, SMALL_LIMBS) < 0) then
      local value = ((limbs[3] or 0) * BASE + (limbs[2] or 0)) * BASE + (limbs[1] or 0)
      return neg and 0 - value or value -- (0 - value, not -value: never a "-0")
    end
    limbs.neg = neg == true
    return limbs
  end

  -- The limbs of any integer (a number's magnitude is below 2^52 here).
  local function limbs_of(x)
    if type(x) ~= 'number' then
      return x
    end
    local limbs, rest = { neg = x < 0 }, x < 0 and -x or x
    while rest > 0 do
      local limb
      rest, limb = idiv(rest, BASE)
      limbs[#limbs + 1] = limb
    end
    return limbs
  end

  local function is_neg(x)
    if type(x) == 'number' then
      return x < 0
    end
    return x.neg
  end

  -- Signed integers ---------------------------------------------------------------------------

  -- x + y when y_neg is y's sign, x - y when it is the opposite; on limbs.
  local function limbs_sum(x, y, y_neg)
    if x.neg == y_neg then
      return canonical(mag_add(x, y), y_neg)
    end
    if mag_cmp(x, y) >= 0 then
      return canonical(mag_sub(x, y), x.neg)
    end
    return canonical(mag_sub(y, x), y_neg)
  end

  -- A sum or difference of two numbers below SMALL is below 2^52: exact, then made canonical.
  local function small(value)
    if value < SMALL and value > -SMALL then
      return value
    end
    return canonical(limbs_of(value), value < 0)
  end

  local function add(x, y)
    if type(x) == 'number' and type(y) == 'number' then
      local sum = x + y
      if sum < SMALL and sum > -SMALL then
        return sum
      end
      return small(sum)
    end
    local b = limbs_of(y)
    return limbs_sum(limbs_of(x), b, b.neg)
  end

  local function sub(x, y)
    if type(x) == 'number' and type(y) == 'number' then
      return small(x - y)
    end
    local b = limbs_of(y)
    return limbs_sum(limbs_of(x), b, not b.neg)
  end

  local function mul(x, y)
    if type(x) == 'number' and type(y) == 'number' then
      -- Exact when it is below SMALL: the true product is then a double, and a true product
      -- of SMALL or more never rounds below SMALL (a double itself).
      local p = x * y
      if p < SMALL and p > -SMALL then
        return p + 0 -- (+ 0: never a "-0")
      end
    end
    local a, b = limbs_of(x), limbs_of(y)
    return canonical(mag_mul(a, b), a.neg ~= b.neg)
  end

  local function cmp(x, y)
    local x_small, y_small = type(x) == 'number', type(y) == 'number'
    if x_small and y_small then
      return x < y and -1 or (x > y and 1 or 0)
    elseif x_small then
      return y.neg and 1 or -1 -- |y| >= SMALL > |x|
    elseif y_small then
      return x.neg and -1 or 1
    elseif x.neg ~= y.neg then
      return x.neg and -1 or 1
    end
    local c = mag_cmp(x, y)
    return x.neg and 0 - c or c
  end

  local function larger(x, y)
    return cmp(x, y) >= 0 and x or y
  end

  -- Quotient and remainder of non-negative integers (all the core divides), y not zero.
  local function divmod(x, y)
    if type(x) == 'number' and type(y) == 'number' then
      return idiv(x, y)
    end
    local q, r = mag_divmod(limbs_of(x), limbs_of(y))
    return canonical(q, false), canonical(r, false)
  end

  -- Decimal text (decimal.rs) -----------------------------------------------------------------

  -- The integer written by a string of ASCII digits, of any length.
  local function of_digits(digits, neg)
    if #digits <= 15 then
      -- Below 10^15 < SMALL: the number itself (tonumber of decimal digits is exact here).
      local value = tonumber(digits) or 0
      return neg and 0 - value or value
    end
    local limbs = {}
    local stop = #digits
    while stop > 0 do
      local start = math.max(1, stop - LIMB_DIGITS + 1)
      limbs[#limbs + 1] = tonumber(string.sub(digits, start, stop))
      stop = start - 1
    end
    return canonical(limbs, neg)
  end

  -- Written as limbs or plain numbers: cheaper than parsing them each time this is built.
  local I64_MAX = { 4775807, 7203685, 92233, neg = false } -- 9223372036854775807
  local I64_MIN = { 4775808, 7203685, 92233, neg = true } -- -9223372036854775808
  -- 2^53, the largest integer a Lua number (a double) holds exactly, and so the largest reply.
  local LUA_EXACT_MAX = { 4740992, 719925, 90, neg = false } -- 9007199254740992
  -- The module's i128 bounds that SOFT's arithmetic meets (gcra.rs: Limit::scaled, band_level_ppm).
  local I128_MAX = { 4105727, 371588, 7316873, 469231, 4118346, 1701, neg = false } -- 2^127 - 1
  local TOLERANCE_CAP = { 2052864, 5185794, 8658436, 234615, 7059173, 850, neg = false } -- 2^126

  -- (The tests read integers back with it; the library writes only times, see `time_text`.)
  local function decimal(x)
    if type(x) == 'number' then
      return string.format('%d', x)
    end
    local n = #x
    local parts = { (x.neg and '-' or '') .. string.format('%d', x[n]) }
    for i = n - 1, 1, -1 do
      parts[#parts + 1] = string.format('%07d', x[i])
    end
    return table.concat(parts)
  end

  -- `[+-]?[0-9]+` within the signed 64-bit range, else nil. Leading zeros are allowed (so the
  -- digits are stripped of them before their length is judged).
  local function parse_i64(text)
    -- `0*` takes the leading zeros but one: "000" leaves "0".
    local sign, significant = string.match(text, '^([+-]?)0*([0-9]+)$')
    if not significant or #significant > 19 then
      return nil
    end
    local value = of_digits(significant, sign == '-')
    if #significant > 15 and (cmp(value, I64_MAX) > 0 or cmp(value, I64_MIN) < 0) then
      return nil
    end
    return value
  end

  -- Seconds written `[+-]digits` or `[+-]digits.digits` (one to nine decimals), as exact
  -- nanoseconds: those are the same digits with the fraction padded to nine, read as an integer.
  -- Negative values parse; the caller's range check rejects them.
  local function parse_seconds_as_nanos(text)
    local sign, whole, fraction = string.match(text, '^([+-]?)([0-9]+)%.?([0-9]*)$')
    -- "1." has a point and no fraction; "1" has neither.
    if not whole or #fraction > 9 or (fraction == '' and string.find(text, '.', 1, true)) then
      return nil
    end
    return parse_i64(sign .. whole .. fraction .. string.rep('0', 9 - #fraction))
  end

  -- Lua numbers for the reply; nothing above 2^53 is ever replied (see LUA_EXACT_MAX), and
  -- up to there the sum below is exact at every step.
  local function to_number(x)
    if type(x) == 'number' then
      return x
    end
    local value = 0
    for i = #x, 1, -1 do
      value = value * BASE + x[i]
    end
    return x.neg and -value or value
  end

  -- Times -------------------------------------------------------------------------------------
  -- An absolute time (a TAT, now) is nanoseconds since 1970 below 2^63, about 2^61 today: more
  -- than a double holds exactly. It is kept as { seconds, nanoseconds }, both exact numbers,
  -- and only differences of times, usually small, become integers.

  local NANOS = 1000000000
  local MAX_SECONDS, MAX_NANOS = 9223372036, 854775807 -- i64::MAX nanoseconds

  local function time_or_nil(seconds, nanos)
    if seconds > MAX_SECONDS or (seconds == MAX_SECONDS and nanos > MAX_NANOS) then
      return nil
    end
    return { seconds, nanos }
  end

  -- A stored TAT, `[0-9]+` within the signed 64-bit range (decimal.rs's parse_digits), or nil.
  local function parse_time(text)
    local significant = string.match(text, '^0*([0-9]+)$')
    if not significant or #significant > 19 then
      return nil
    end
    -- The last nine digits are the nanoseconds, the others (up to ten) the seconds.
    return time_or_nil(
      tonumber(string.sub(significant, 1, -10)) or 0,
      tonumber(string.sub(significant, -9))
    )
  end

  -- The decimal nanoseconds of a time, without leading zeros (the module's stored format).
  local function time_text(time)
    if time[1] == 0 then
      return string.format('%d', time[2])
    end
    return string.format('%d%09d', time[1], time[2])
  end

  -- The time rounded up to the millisecond, in milliseconds: where its key expires.
  local function expiry_ms(time)
    local millis, rest = idiv(time[2], 1000000)
    return string.format('%d', time[1] * 1000 + millis + (rest > 0 and 1 or 0))
  end

  -- later - earlier, in nanoseconds.
  local function time_diff(later, earlier)
    local seconds = later[1] - earlier[1]
    if seconds < 1000000 and seconds > -1000000 then
      return seconds * NANOS + (later[2] - earlier[2]) -- below 10^15 + 10^9 < SMALL
    end
    return add(mul(seconds, NANOS), later[2] - earlier[2])
  end

  -- time + ahead (an integer >= 0), or nil past i64::MAX nanoseconds.
  local function time_add(time, ahead)
    if cmp(ahead, I64_MAX) > 0 then
      return nil
    end
    local seconds, nanos = divmod(ahead, NANOS) -- below 2^34 and 10^9: numbers
    seconds, nanos = time[1] + seconds, time[2] + nanos
    if nanos >= NANOS then
      seconds, nanos = seconds + 1, nanos - NANOS
    end
    return time_or_nil(seconds, nanos)
  end

  -- Errors (error.rs) -------------------------------------------------------------------------

  local E = {
    WrongArity = "ERR wrong number of arguments for 'CL.THROTTLE' command",
    WrongArityAll = "ERR wrong number of arguments for 'CL.THROTTLEALL' command",
    InvalidNumLimits = 'ERR invalid numlimits: expected an integer >= 1, followed by that many key max_burst count period groups',
    WrongArityPeek = "ERR wrong number of arguments for 'CL.PEEK' command",
    UnknownOption = 'ERR unknown option: expected MS, BLOCK <ms>, ATMOST or SOFT <hard_factor> after the quantity',
    RepeatedOption = 'ERR an option appears twice',
    ConflictingOptions = 'ERR BLOCK, ATMOST and SOFT cannot be combined: give at most one',
    InvalidBlock = 'ERR invalid BLOCK: expected milliseconds from 0 to 9223372036854',
    InvalidSoft = 'ERR invalid SOFT: expected a hard_factor from 1 to 1000, with at most 9 decimals',
    ModeNeedsQuantity = 'ERR BLOCK, ATMOST and SOFT need a quantity of at least 1',
    PeekMode = 'ERR CL.PEEK only looks: it takes [quantity] [MS], not BLOCK, ATMOST or SOFT',
    DuplicateKey = 'ERR the same key appears twice in CL.THROTTLEALL: give each limit its own key',
    InvalidMaxBurst = 'ERR invalid max_burst: expected an integer from 0 to 9223372036854775806',
    InvalidCount = 'ERR invalid count: expected an integer from 1 to 9223372036854775807',
    InvalidPeriod = 'ERR invalid period: expected seconds above 0 and up to 9223372036.854775807, with at most 9 decimals',
    InvalidQuantity = 'ERR invalid quantity: expected a 64-bit integer (or an option: MS, BLOCK, ATMOST, SOFT)',
    RateTooHigh = 'ERR invalid count: more than one token per nanosecond (count must not exceed period in nanoseconds)',
    WrongType = 'WRONGTYPE Operation against a key holding the wrong kind of value',
    CorruptState = 'ERR key holds a string that is not a rate limiter state (expected a TAT: nanoseconds since the Unix epoch)',
    Overflow = 'ERR quantity or period too large: the rate limiter state would overflow a 64-bit integer',
    Clock = 'ERR cannot read the system clock (or it is before 1970)',
    -- Only here, not in the module:
    MaxBurstTooLarge = 'ERR invalid max_burst: at most 9007199254740991 without the module (Lua replies integers exactly only up to 2^53)',
    UnknownEntry = 'ERR unknown entry: the first argument after the keys must be cl_throttle, cl_throttleall or cl_peek',
  }

  -- Raised with error() and turned into the error reply at the entry (see `entry`), like `?`
  -- in the module: a raised error is one no caller can mistake for a reply.
  local Failure = {}

  local function fail(message)
    error(setmetatable({ message = message }, Failure), 0)
  end

  local function narrow(x)
    if cmp(x, I64_MAX) > 0 or cmp(x, I64_MIN) < 0 then
      fail(E.Overflow)
    end
    return x
  end

  -- Arguments (args.rs) -----------------------------------------------------------------------

  -- A validated limit: `count` tokens per `period`, bursts of `max_burst + 1`.
  local function new_limit(max_burst, count, period_ns)
    if type(max_burst) == 'number' and type(count) == 'number' and type(period_ns) == 'number' then
      -- The usual case, the same checks with Lua's operators: all three are below 2^51.
      if max_burst < 0 then
        fail(E.InvalidMaxBurst)
      elseif count < 1 then
        fail(E.InvalidCount)
      elseif period_ns < 1 then
        fail(E.InvalidPeriod)
      end
      local interval = idiv(period_ns, count)
      if interval < 1 then
        fail(E.RateTooHigh)
      end
      local capacity = small(max_burst + 1)
      return { capacity = capacity, interval = interval, tolerance = mul(interval, capacity) }
    end
    if is_neg(max_burst) or cmp(max_burst, I64_MAX) >= 0 then
      fail(E.InvalidMaxBurst)
    end
    if cmp(count, 1) < 0 then
      fail(E.InvalidCount)
    end
    if cmp(period_ns, 1) < 0 then
      fail(E.InvalidPeriod)
    end
    local interval = divmod(period_ns, count)
    if cmp(interval, 1) < 0 then
      fail(E.RateTooHigh)
    end
    local capacity = add(max_burst, 1)
    return { capacity = capacity, interval = interval, tolerance = mul(interval, capacity) }
  end

  -- Every argument is parsed before any range is checked, as the module does.
  local function parse_limit(max_burst, count, period)
    local burst = parse_i64(max_burst) or fail(E.InvalidMaxBurst)
    local tokens = parse_i64(count) or fail(E.InvalidCount)
    local period_ns = parse_seconds_as_nanos(period) or fail(E.InvalidPeriod)
    return new_limit(burst, tokens, period_ns)
  end

  local function parse_quantity(text)
    return parse_i64(text) or fail(E.InvalidQuantity)
  end

  -- The modes (modes.rs); nil is the plain form.
  local BLOCK, ATMOST, SOFT = 'block', 'atmost', 'soft'
  local MAX_BLOCK_MS = 9223372036854 -- the milliseconds whose nanoseconds fit in 64 bits
  local MIN_SOFT, MAX_SOFT = 1000000000, 1000000000000 -- hard_factor 1 to 1000, in billionths

  -- An option's name in capitals (any case is accepted), or nil for anything else.
  local OPTIONS = { MS = true, BLOCK = true, ATMOST = true, SOFT = true }
  local function option_name(text)
    local name = string.upper(text)
    return OPTIONS[name] and name or nil
  end

  -- The error for more option arguments than any valid request has (args[from] on): an option
  -- given twice, if one is, names the mistake; otherwise `too_many`, the wrong arity. Read as
  -- `parse_options` reads them: BLOCK and SOFT take the next argument as their value, anything
  -- else is passed over (args.rs, too_many_options).
  local function too_many_options(args, from, too_many)
    local seen, at = {}, from
    while at <= #args do
      local name = option_name(args[at])
      at = at + 1
      if name then
        if seen[name] then
          return E.RepeatedOption
        end
        seen[name] = true
        if name == 'BLOCK' or name == 'SOFT' then
          at = at + 1
        end
      end
    end
    return too_many
  end

  -- `[quantity] [MS] [BLOCK ms | ATMOST | SOFT hard_factor]`, from args[from] on: the quantity
  -- (default 1) comes first; the options follow in any order, each at most once, in any case.
  -- Returns the quantity, whether replies are in milliseconds, and the mode: nil (plain) or
  -- { kind, value }.
  local function parse_options(args, from, too_many)
    if #args - from + 1 > 4 then
      fail(too_many_options(args, from, too_many))
    end
    local quantity, at = 1, from
    if args[from] and not option_name(args[from]) then
      quantity, at = parse_quantity(args[from]), from + 1
    end
    local in_ms, mode, seen = false, nil, {}
    while at <= #args do
      local name = option_name(args[at]) or fail(E.UnknownOption)
      at = at + 1
      -- A repeat or a second mode is wrong whatever value follows: said before reading it.
      if seen[name] then
        fail(E.RepeatedOption)
      end
      seen[name] = true
      if name ~= 'MS' and mode then
        fail(E.ConflictingOptions)
      end
      if name == 'MS' then
        in_ms = true
      elseif name == 'ATMOST' then
        mode = { kind = ATMOST }
      elseif name == 'BLOCK' then
        local ms = args[at] and parse_i64(args[at])
        at = at + 1
        if not ms or cmp(ms, 0) < 0 or cmp(ms, MAX_BLOCK_MS) > 0 then
          fail(E.InvalidBlock)
        end
        mode = { kind = BLOCK, value = ms }
      else
        local factor_e9 = args[at] and parse_seconds_as_nanos(args[at])
        at = at + 1
        if not factor_e9 or cmp(factor_e9, MIN_SOFT) < 0 or cmp(factor_e9, MAX_SOFT) > 0 then
          fail(E.InvalidSoft)
        end
        mode = { kind = SOFT, value = factor_e9 }
      end
    end
    if mode and cmp(quantity, 1) < 0 then
      fail(E.ModeNeedsQuantity)
    end
    return quantity, in_ms, mode
  end

  -- A limit the module accepts but whose reply a function cannot give exactly.
  local function check_exact_reply(limits)
    for _, limit in ipairs(limits) do
      if cmp(limit.capacity, LUA_EXACT_MAX) > 0 then
        fail(E.MaxBurstTooLarge)
      end
    end
  end

  -- The algorithm (gcra.rs) -------------------------------------------------------------------

  -- What to do with a key's TAT (gcra.rs's TatChange): KEEP, DELETE, or a time to store.
  local KEEP, DELETE = 'keep', 'delete'

  -- gcra.rs's arithmetic, line by line, with every time taken relative to now (a time minus
  -- now is written `*_ahead`): differences do not change, and the values stay small enough to
  -- be plain numbers, where the absolute times (about 2^61) would not. Returns whether the
  -- request is limited, retry_after_ns (nil when allowed or never), the ttl (reset_after_ns),
  -- where the TAT moves when allowed, and the tokens remaining.
  local function ahead_exact(limit, quantity, tat_ahead)
    local increment = mul(limit.interval, quantity)
    local new_tat_ahead = add(larger(tat_ahead, 0), increment)
    local allow_at_ahead = sub(new_tat_ahead, limit.tolerance)
    local diff = sub(0, allow_at_ahead) -- now - allow_at
    local limited, retry_after_ns, ttl = false, nil, nil
    if cmp(quantity, 0) > 0 and is_neg(diff) then
      if cmp(increment, limit.tolerance) <= 0 then
        retry_after_ns = narrow(sub(0, diff))
      end
      limited, ttl = true, larger(tat_ahead, 0)
    else
      -- A refund never takes the bucket past full: the TAT stays at or after now.
      new_tat_ahead = larger(new_tat_ahead, 0)
      ttl = new_tat_ahead
    end
    local headroom = sub(limit.tolerance, ttl)
    local remaining = 0
    if not is_neg(headroom) then
      remaining = narrow((divmod(headroom, limit.interval)))
    end
    return limited, retry_after_ns, narrow(ttl), new_tat_ahead, remaining
  end

  -- The same with Lua's own operators, for the usual case where `fits_small` holds: the
  -- tolerance, the increment and the TAT's distance from now all below 2^50 (13 days). Then
  -- every value below is below 2^51: exact, and in the canonical form of a small integer.
  local function ahead_small(limit, quantity, tat_ahead)
    local interval, tolerance = limit.interval, limit.tolerance
    local increment = interval * quantity
    local new_tat_ahead = (tat_ahead > 0 and tat_ahead or 0) + increment
    local allow_at_ahead = new_tat_ahead - tolerance
    local limited, retry_after_ns, ttl = false, nil, nil
    if quantity > 0 and allow_at_ahead > 0 then
      if increment <= tolerance then
        retry_after_ns = allow_at_ahead
      end
      limited, ttl = true, tat_ahead > 0 and tat_ahead or 0
    else
      new_tat_ahead = new_tat_ahead > 0 and new_tat_ahead or 0
      ttl = new_tat_ahead
    end
    local headroom = tolerance - ttl
    local remaining = 0
    if headroom >= 0 then
      remaining = idiv(headroom, interval)
    end
    return limited, retry_after_ns, ttl, new_tat_ahead, remaining
  end

  local FAST = 1125899906842624 -- 2^50

  local function fits_small(limit, quantity, tat_ahead)
    local tolerance = limit.tolerance
    if type(tolerance) ~= 'number' or type(quantity) ~= 'number' or type(tat_ahead) ~= 'number' then
      return false
    end
    -- Exact when it passes: a product below 2^51 is exact (see `mul`).
    local increment = limit.interval * quantity
    return tolerance < FAST
      and increment < FAST
      and increment > -FAST
      and tat_ahead < FAST
      and tat_ahead > -FAST
  end

  -- Decides one request for `quantity` tokens (0 peeks, negative refunds) against the stored
  -- TAT (nil when the key is absent) at `now` (both times); `change` is KEEP, DELETE or the
  -- time to store.
  local function decide(limit, quantity, stored_tat, now)
    local tat_ahead = stored_tat and time_diff(stored_tat, now) or 0
    local arithmetic = fits_small(limit, quantity, tat_ahead) and ahead_small or ahead_exact
    local limited, retry_after_ns, ttl, new_tat_ahead, remaining =
      arithmetic(limit, quantity, tat_ahead)
    local change = KEEP
    local sign = cmp(quantity, 0)
    if limited or sign == 0 then
      change = KEEP
    elseif sign > 0 or cmp(new_tat_ahead, 0) > 0 then
      change = time_add(now, new_tat_ahead) or fail(E.Overflow)
    elseif stored_tat then
      change = DELETE -- a refund that fills the bucket
    end
    return {
      limited = limited,
      capacity = limit.capacity,
      remaining = remaining,
      retry_after_ns = retry_after_ns,
      reset_after_ns = ttl,
      change = change,
    }
  end

  -- CL.THROTTLEALL's combining rule: limited if any limit is; capacity and remaining of the one
  -- with the least remaining (the first on ties); retry_after the longest among the limited
  -- ones, or never if one of them can never fit; reset_after the longest of all.
  local function combine(decisions)
    local tightest = decisions[1]
    local limited, never, retry_after_ns, reset_after_ns = false, false, nil, 0
    for _, d in ipairs(decisions) do
      if cmp(d.remaining, tightest.remaining) < 0 then
        tightest = d
      end
      if d.limited then
        limited = true
        if d.retry_after_ns == nil then
          never = true
        elseif retry_after_ns == nil or cmp(d.retry_after_ns, retry_after_ns) > 0 then
          retry_after_ns = d.retry_after_ns
        end
      end
      reset_after_ns = larger(d.reset_after_ns, reset_after_ns)
    end
    return {
      limited = limited,
      capacity = tightest.capacity,
      remaining = tightest.remaining,
      retry_after_ns = not never and retry_after_ns or nil,
      reset_after_ns = reset_after_ns,
      change = KEEP,
    }
  end

  -- One request against several limits: allowed only if every limit allows it, and then every
  -- limit is charged; otherwise nothing is, and the limits that would have allowed report their
  -- state as it is. Returns the combined decision and one change per limit (none if limited).
  local function decide_all(states, quantity, now)
    local decisions, any_limited = {}, false
    for i, state in ipairs(states) do
      decisions[i] = decide(state.limit, quantity, state.tat, now)
      any_limited = any_limited or decisions[i].limited
    end
    if not any_limited then
      local changes = {}
      for i, d in ipairs(decisions) do
        changes[i] = d.change
      end
      return combine(decisions), changes
    end
    local uncharged = {}
    for i, d in ipairs(decisions) do
      uncharged[i] = d.limited and d or decide(states[i].limit, 0, states[i].tat, now)
    end
    return combine(uncharged), {}
  end

  -- The modes (modes.rs) ----------------------------------------------------------------------

  -- SOFT's hard limit: the same rate with the tolerance scaled by `factor_e9` billionths, capped
  -- at 2^126 ns, and capped too where the module's 128-bit product would overflow.
  local function scaled(limit, factor_e9)
    local product = mul(limit.tolerance, factor_e9)
    local tolerance = TOLERANCE_CAP
    if cmp(product, I128_MAX) <= 0 then
      tolerance = divmod(product, NANOS)
      if cmp(tolerance, TOLERANCE_CAP) > 0 then
        tolerance = TOLERANCE_CAP
      end
    end
    return { capacity = limit.capacity, interval = limit.interval, tolerance = tolerance }
  end

  -- How far into SOFT's band (between `soft`'s tolerance and `hard`'s) a request for `quantity`
  -- tokens would take the bucket, in millionths: 0 at or below the soft limit, 10^6 at the hard.
  local function band_level_ppm(soft, hard, quantity, tat, now)
    local whole = 1000000
    local tat_ahead = tat and time_diff(tat, now) or 0
    local new_tat_ahead = add(larger(tat_ahead, 0), mul(soft.interval, quantity))
    local excess = sub(new_tat_ahead, soft.tolerance)
    local band = sub(hard.tolerance, soft.tolerance)
    if cmp(excess, 0) <= 0 then
      return 0
    elseif cmp(excess, band) >= 0 then
      return whole
    end
    -- As the module: a band too wide to multiply (past 128 bits) is divided first.
    local level
    local times_whole = mul(excess, whole)
    if cmp(times_whole, I128_MAX) <= 0 then
      level = divmod(times_whole, band)
    else
      level = divmod(excess, (divmod(band, whole)))
    end
    return cmp(level, whole) < 0 and level or whole
  end

  -- Each limit with its TAT after `changes` (none: as it was).
  local function after(states, changes)
    local out = {}
    for i, state in ipairs(states) do
      local change, tat = changes[i], state.tat
      if change == DELETE then
        tat = nil
      elseif change ~= nil and change ~= KEEP then
        tat = change
      end
      out[i] = { limit = state.limit, tat = tat }
    end
    return out
  end

  -- The reply to a refused SOFT request (modes.rs, `refused`): the soft limit's decision, with
  -- a retry_after never 0 in either unit. A request that fits the capacity: the time until it
  -- surely passes, at least 1 ms. A larger one that the band may admit: the time until the
  -- bucket drains, and at least 1 ms and the longest emission interval of the limits that
  -- refuse it (once drained its chance stays the same: this paces retries at the limit's rate).
  -- One that not even the hard limit fits: never.
  local MILLI = 1000000 -- a millisecond, in ns
  local function soft_refused(states, quantity, now, within_soft, fits_hard)
    local retry_after_ns = within_soft.retry_after_ns
    if retry_after_ns ~= nil then
      retry_after_ns = larger(retry_after_ns, MILLI)
    elseif fits_hard then
      retry_after_ns = larger(within_soft.reset_after_ns, MILLI)
      for _, state in ipairs(states) do
        if decide(state.limit, quantity, state.tat, now).limited then
          retry_after_ns = larger(state.limit.interval, retry_after_ns)
        end
      end
    end
    local refused = {}
    for field, value in pairs(within_soft) do
      refused[field] = value
    end
    refused.retry_after_ns = retry_after_ns
    return refused
  end

  -- A request in any mode over `states`: the combined decision, one change per limit (none
  -- when nothing is written) and the reply's sixth element, if any (ATMOST: the tokens
  -- granted; SOFT: the suppression level in per mille). `draw` gives SOFT a uniform random
  -- number below 10^6 (it is given `now`).
  local function decide_with(mode, states, quantity, now, draw)
    -- BLOCK waits only where a client can: in a function or a script the module answers at
    -- once, as without BLOCK, and so does this.
    if mode == nil or mode.kind == BLOCK then
      local decision, changes = decide_all(states, quantity, now)
      return decision, changes, nil
    elseif mode.kind == ATMOST then
      -- The combined peek's remaining is what fits in every limit.
      local available = decide_all(states, 0, now).remaining
      local granted = larger(cmp(quantity, available) < 0 and quantity or available, 0)
      -- Nothing fits: the reply of a one-token request (limited, with its retry_after).
      local decision, changes = decide_all(states, larger(granted, 1), now)
      return decision, changes, granted
    end
    local within_soft, within_changes = decide_all(states, quantity, now)
    if not within_soft.limited then
      return within_soft, within_changes, 0
    end
    local hard = {}
    for i, state in ipairs(states) do
      hard[i] = { limit = scaled(state.limit, mode.value), tat = state.tat }
    end
    local over_hard, changes = decide_all(hard, quantity, now)
    -- Whether the band can ever admit it (never only past the hard limit).
    local fits_hard = not over_hard.limited or over_hard.retry_after_ns ~= nil
    if over_hard.limited then
      return soft_refused(states, quantity, now, within_soft, fits_hard), {}, 1000
    end
    -- Inside the band: the limit furthest into its band sets the level.
    local level_ppm = 0
    for i, state in ipairs(states) do
      level_ppm = larger(band_level_ppm(state.limit, hard[i].limit, quantity, state.tat, now), level_ppm)
    end
    local level = idiv(level_ppm, 1000)
    -- Admitted with probability 1 - level; the reply shows the soft limit's view: allowed,
    -- nothing remaining, its reset.
    if draw(now) >= level_ppm then
      return decide_all(after(states, changes), 0, now), changes, level
    end
    return soft_refused(states, quantity, now, within_soft, fits_hard), {}, level
  end

  -- SOFT's draws (random.rs): Park and Miller's generator, exact in doubles (products stay
  -- below 2^47), its state kept with the library and seeded from the clock at the first draw.
  -- Not cryptographic, like the module's. (A script keeps no state between calls: as a script
  -- it is seeded at every call, from TIME's microseconds.)
  local PRNG_MODULUS = 2147483647
  local prng_state = nil

  local function prng_draw(now)
    if prng_state == nil then
      prng_state = select(2, idiv(now[1] * 1000000 + idiv(now[2], 1000), PRNG_MODULUS - 1)) + 1
    end
    prng_state = select(2, idiv(prng_state * 48271, PRNG_MODULUS))
    return select(2, idiv(prng_state, 1000000))
  end

  -- redis-cell's rounding: drop the sub-millisecond part, then round up to whole seconds.
  -- (Both take the same steps with Lua's operators when `ns` is a number, below 2^51.)
  local function seconds_rounded_up(ns)
    if type(ns) == 'number' then
      return (idiv(idiv(ns > 0 and ns or 0, 1000000) + 999, 1000))
    end
    local millis = divmod(larger(ns, 0), 1000000)
    return (divmod(add(millis, 999), 1000))
  end

  -- Rounded up: any sub-millisecond remainder counts as a millisecond.
  local function milliseconds_rounded_up(ns)
    if type(ns) == 'number' then
      local millis, rest = idiv(ns > 0 and ns or 0, 1000000)
      return rest ~= 0 and millis + 1 or millis
    end
    local millis, rest = divmod(larger(ns, 0), 1000000)
    return rest ~= 0 and add(millis, 1) or millis
  end

  -- The five integers: limited, limit, remaining, retry_after, reset_after; and the mode's
  -- sixth when it has one.
  local function reply(decision, in_ms, extra)
    local convert = in_ms and milliseconds_rounded_up or seconds_rounded_up
    local retry_after = -1
    if decision.retry_after_ns then
      retry_after = to_number(convert(decision.retry_after_ns))
    end
    return {
      decision.limited and 1 or 0,
      to_number(decision.capacity),
      to_number(decision.remaining),
      retry_after,
      to_number(convert(decision.reset_after_ns)),
      extra and to_number(extra) or nil,
    }
  end

  -- Keys and the clock (store.rs, clock.rs) ---------------------------------------------------

  -- The stored TAT: nil when the key is absent, an error for another type or a string that is
  -- not a TAT.
  local function read_tat(key)
    local value = redis.pcall('GET', key)
    if type(value) == 'table' then
      local message = tostring(value.err)
      fail(string.find(message, '^WRONGTYPE') and E.WrongType or message)
    end
    if not value then
      return nil
    end
    return parse_time(value) or fail(E.CorruptState)
  end

  -- Applies a decision's change with the commands the module replicates, so that replicas and
  -- the AOF get exactly the module's effects. The key expires at its TAT rounded up to the ms.
  local function apply(key, change)
    if change == DELETE then
      redis.call('DEL', key)
    elseif change ~= KEEP then
      redis.call('SET', key, time_text(change), 'PXAT', expiry_ms(change))
    end
  end

  -- Now, from the server's TIME: seconds and microseconds (so the nanoseconds always end in
  -- three zeros).
  local function server_now()
    local time = redis.call('TIME')
    return time_or_nil(tonumber(time[1]), tonumber(time[2]) * 1000) or fail(E.Clock)
  end

  -- The entries (commands/) -------------------------------------------------------------------

  -- CL.THROTTLE's and CL.PEEK's arguments: KEYS = key, ARGV = max_burst count period and the
  -- options. `arity` is the command's wrong-arity error.
  local function parse_single(keys, args, arity)
    -- At least the command's arity (-5), at most three arguments and four options; past those,
    -- before the limit is read, an option given twice or else the wrong arity.
    if #keys ~= 1 or #args < 3 then
      fail(arity)
    elseif #args > 7 then
      fail(too_many_options(args, 4, arity))
    end
    local limit = parse_limit(args[1], args[2], args[3])
    local quantity, in_ms, mode = parse_options(args, 4, arity)
    return limit, quantity, in_ms, mode
  end

  -- cl_throttle (commands/throttle.rs). `now` and `draw` give the time and SOFT's draws.
  local function throttle(keys, args, now, draw)
    local limit, quantity, in_ms, mode = parse_single(keys, args, E.WrongArity)
    check_exact_reply({ limit })
    local tat = read_tat(keys[1])
    if mode == nil then
      -- The plain form, redis-cell's.
      local decision = decide(limit, quantity, tat, now())
      apply(keys[1], decision.change)
      return reply(decision, in_ms)
    end
    local decision, changes, extra =
      decide_with(mode, { { limit = limit, tat = tat } }, quantity, now(), draw)
    if changes[1] then
      apply(keys[1], changes[1])
    end
    return reply(decision, in_ms, extra)
  end

  -- cl_peek (commands/peek.rs): what cl_throttle would reply now, writing nothing.
  local function peek(keys, args, now)
    local limit, quantity, in_ms, mode = parse_single(keys, args, E.WrongArityPeek)
    if mode ~= nil then
      fail(E.PeekMode)
    end
    check_exact_reply({ limit })
    local tat = read_tat(keys[1])
    return reply(decide(limit, quantity, tat, now()), in_ms)
  end

  -- cl_throttleall (commands/throttle_all.rs): KEYS = the n keys, ARGV = n groups of max_burst
  -- count period, then the options. n is numlimits.
  local function throttle_all(keys, args, now, draw)
    local n = #keys
    -- The command's arity (-6), which Redis checks before the module runs: numlimits key
    -- max_burst count period at least.
    if n + #args < 4 then
      fail(E.WrongArityAll)
    end
    if n == 0 or #args < 3 * n then
      fail(E.InvalidNumLimits)
    end
    local limits = {}
    for i = 1, n do
      limits[i] = parse_limit(args[3 * i - 2], args[3 * i - 1], args[3 * i])
    end
    local quantity, in_ms, mode = parse_options(args, 3 * n + 1, E.WrongArityAll)
    -- Two limits on one key would race on one TAT: refuse rather than guess.
    local seen = {}
    for _, key in ipairs(keys) do
      if seen[key] then
        fail(E.DuplicateKey)
      end
      seen[key] = true
    end
    check_exact_reply(limits)
    local states = {}
    for i, key in ipairs(keys) do
      states[i] = { limit = limits[i], tat = read_tat(key) }
    end
    local decision, changes, extra = decide_with(mode, states, quantity, now(), draw)
    for i, change in ipairs(changes) do
      apply(keys[i], change)
    end
    return reply(decision, in_ms, extra)
  end

  -- A callable for Redis: replies what `handler` returns, or the error it failed with. Any other
  -- error (a bug, or a server error) is raised again for Redis to report.
  local function entry(handler, now, draw)
    return function(keys, args)
      local ok, result = pcall(handler, keys, args, now, draw)
      if ok then
        return result
      end
      if getmetatable(result) == Failure then
        return redis.error_reply(result.message)
      end
      error(result, 0)
    end
  end

  -- The exact path's entries.
  local ENTRIES = {
    cl_throttle = entry(throttle, server_now, prng_draw),
    cl_throttleall = entry(throttle_all, server_now, prng_draw),
    cl_peek = entry(peek, server_now),
  }
  -- (tests/function_differential.rs inserts its test-only entries here)
  return ENTRIES, E.UnknownEntry
end

-- FCALL's exact path: an entry by name, built at the first call that needs one.
local exact_entries
local function exact_entry(name)
  if not exact_entries then
    exact_entries = build_exact()
  end
  return exact_entries[name]
end

if redis.register_function then
  -- FCALL's: the fast path, else the exact path.
  local function callback(name)
    return function(keys, args)
      if not call then
        bind()
      end
      return fast(keys, args, 1, name, find, byte, format, call, pcall_redis, ms_as_number, parsed)
        or exact_entry(name)(keys, args)
    end
  end
  redis.register_function({ function_name = 'cl_throttle', callback = callback('cl_throttle') })
  redis.register_function({ function_name = 'cl_throttleall', callback = callback('cl_throttleall') })
  -- no-writes: FCALL_RO may call it, on replicas too.
  redis.register_function({
    function_name = 'cl_peek',
    callback = callback('cl_peek'),
    flags = { 'no-writes' },
  })
else
  -- EVAL/EVALSHA, where the fast path declined: ARGV[1] names the entry.
  local entries, unknown_entry = build_exact()
  local run = entries[ARGV[1]]
  if not run then
    return redis.error_reply(unknown_entry)
  end
  local args = {}
  for i = 2, #ARGV do
    args[i - 1] = ARGV[i]
  end
  return run(KEYS, args)
end
