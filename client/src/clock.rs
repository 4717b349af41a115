//! Where the local limiter reads "now", its random draws, and how it waits.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall clock in nanoseconds since the epoch (the module's "now": stored TATs are wall
/// clock times, so a local limiter and a server agree on what a key holds), `SOFT`'s draws,
/// and sleeping for `BLOCK`. Tests give their own.
pub trait Clock: Send + Sync {
    /// Now, in nanoseconds since the Unix epoch; `None` if the clock is before 1970 or past 2262.
    fn now_ns(&self) -> Option<i64>;

    /// A uniform random number for `SOFT`'s admissions (not cryptographic, like the module's).
    fn draw(&self) -> u64 {
        thread_draw()
    }

    /// Waits for a `BLOCK` reservation to come due.
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The system's wall clock, read at every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now_ns(&self) -> Option<i64> {
        wall_clock_ns()
    }
}

/// The wall clock read once, when made, then advanced by the CPU's time-stamp counter (the
/// `quanta` crate, as governor reads time): the local limiter's default. Reading the wall
/// clock costs about 60 ns a call in this project's VMs, the counter about 16 ns. It follows
/// the counter, not the wall clock's later steps (an NTP jump does not move it).
#[derive(Debug, Clone)]
pub struct CounterClock {
    counter: quanta::Clock,
    start_raw: u64,
    start_ns: i64,
}

impl CounterClock {
    pub fn new() -> CounterClock {
        let counter = quanta::Clock::new();
        let start_raw = counter.raw();
        CounterClock {
            start_ns: wall_clock_ns().unwrap_or(0),
            start_raw,
            counter,
        }
    }
}

impl Default for CounterClock {
    fn default() -> Self {
        CounterClock::new()
    }
}

impl Clock for CounterClock {
    #[inline]
    fn now_ns(&self) -> Option<i64> {
        let since = self
            .counter
            .delta_as_nanos(self.start_raw, self.counter.raw());
        self.start_ns.checked_add(i64::try_from(since).ok()?)
    }
}

/// The wall clock in nanoseconds since the epoch.
#[inline]
pub fn wall_clock_ns() -> Option<i64> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_nanos()).ok()
}

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// xorshift64* per thread, seeded from the clock and the thread's own address.
fn thread_draw() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            let seed = wall_clock_ns().unwrap_or(1).unsigned_abs();
            x = (seed ^ (state as *const Cell<u64> as u64).rotate_left(32)) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}
