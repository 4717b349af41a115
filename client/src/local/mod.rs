//! The local provider: a limiter in this process, for many threads, deciding every call
//! with the module's own core (`gcra-core`), so that for the same arguments, stored TAT and
//! now it gives the module's reply and stores the module's TAT.

mod decide;
mod store;

use std::time::Duration;

use crate::clock::{Clock, CounterClock};
use crate::decision::Decision;
use crate::error::Error;
use crate::key::Key;
use crate::limit::Limit;
use crate::mode::Mode;
use crate::request::{quantity, refund_quantity, Call, Command};

use decide::{decide, released, Decided};
use gcra_core::gcra::{self, TatChange};
use gcra_core::state::Write;
use gcra_core::Error as CoreError;
use store::{Change, Store};

/// A rate limiter in this process: `Send + Sync`, share it (`Arc`) between threads.
///
/// Keys live in a concurrent map; a key whose bucket is full again is dropped by a sweep
/// that runs as keys are added (or by [`LocalLimiter::cleanup`]), as Redis expires the
/// module's keys.
pub struct LocalLimiter<C: Clock = CounterClock> {
    store: Store,
    clock: C,
}

impl Default for LocalLimiter<CounterClock> {
    fn default() -> Self {
        LocalLimiter::new()
    }
}

impl LocalLimiter<CounterClock> {
    /// A limiter on the [`CounterClock`] (the wall clock at creation, then the CPU's
    /// counter); [`LocalLimiter::with_clock`] takes [`crate::SystemClock`] or a test's clock.
    pub fn new() -> LocalLimiter<CounterClock> {
        LocalLimiter::with_clock(CounterClock::new())
    }
}

impl<C: Clock> LocalLimiter<C> {
    /// A limiter that reads "now" (and draws, and sleeps) through `clock`.
    pub fn with_clock(clock: C) -> LocalLimiter<C> {
        LocalLimiter {
            store: Store::new(),
            clock,
        }
    }

    /// Takes `quantity` tokens (0 peeks).
    #[inline]
    pub fn throttle(&self, key: &Key, limit: &Limit, tokens: u64) -> Result<Decision, Error> {
        self.plain(Command::Throttle, key, limit, quantity(tokens)?)
    }

    /// Takes `quantity` tokens in `mode` (`BLOCK` sleeps this thread until the reservation
    /// is due).
    pub fn throttle_with(
        &self,
        key: &Key,
        limit: &Limit,
        tokens: u64,
        mode: Mode,
    ) -> Result<Decision, Error> {
        self.run(Call::new(
            Command::Throttle,
            &[(key, limit)],
            quantity(tokens)?,
            mode,
        )?)
    }

    /// One request against several limits (distinct keys), all or nothing.
    pub fn throttle_all(
        &self,
        limits: &[(&Key, &Limit)],
        tokens: u64,
        mode: Mode,
    ) -> Result<Decision, Error> {
        self.run(Call::new(
            Command::Throttle,
            limits,
            quantity(tokens)?,
            mode,
        )?)
    }

    /// What `throttle` would answer now for `quantity` tokens; changes nothing.
    pub fn peek(&self, key: &Key, limit: &Limit, tokens: u64) -> Result<Decision, Error> {
        self.plain(Command::Peek, key, limit, quantity(tokens)?)
    }

    /// Gives `quantity` tokens back, never past a full bucket.
    pub fn refund(&self, key: &Key, limit: &Limit, tokens: u64) -> Result<Decision, Error> {
        self.plain(Command::Throttle, key, limit, refund_quantity(tokens)?)
    }

    /// Forgets a key: its bucket is full again.
    pub fn reset(&self, key: &Key) {
        self.store.remove(key.as_bytes());
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.store.clear();
    }

    /// Drops the keys whose buckets are full again; returns how many.
    pub fn cleanup(&self) -> usize {
        self.clock.now_ns().map_or(0, |now| self.store.sweep(now))
    }

    /// How many keys are held (full buckets not yet swept included).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The TAT the key holds (ns since the epoch): what the module would store at that key.
    pub fn stored_tat(&self, key: &Key) -> Option<i64> {
        self.store
            .read(&[key.as_bytes()])
            .first()
            .copied()
            .flatten()
    }

    /// redis-cell's plain form on one key: the pipeline's hot path, the decision built
    /// directly (no call to validate: one key, no mode). The closure's error is the core's
    /// small one, turned into ours once, so the retry loop moves no large `Result` around.
    #[inline]
    fn plain(
        &self,
        command: Command,
        key: &Key,
        limit: &Limit,
        quantity: i64,
    ) -> Result<Decision, Error> {
        let now = self.clock.now_ns().ok_or(Error::Clock)?;
        let decided = self.store.update_one(key.as_bytes(), now, |tat| {
            let decision = gcra::decide(limit.core(), quantity, tat, now)?;
            let change = match (command, decision.change) {
                (Command::Peek, _) | (_, TatChange::Keep) => Change::Keep,
                // What Write::prepare checks: a TAT before the epoch cannot be stored.
                (_, TatChange::Set(tat)) if tat < 0 => return Err(CoreError::Overflow),
                (_, TatChange::Set(tat)) => Change::Set(tat),
                (_, TatChange::Delete) => Change::Delete,
            };
            Ok((decision, change))
        });
        match decided {
            Ok(decision) => Ok(Decision::from_core(&decision, quantity)),
            Err(error) => Err(error.into()),
        }
    }

    fn run(&self, call: Call<'_>) -> Result<Decision, Error> {
        if let ([(key, limit)], Mode::Plain) = (call.limits, call.mode) {
            return self.plain(call.command, key, limit, call.quantity);
        }
        let now = self.clock.now_ns().ok_or(Error::Clock)?;
        let draw = match call.mode {
            Mode::Soft { .. } => self.clock.draw(),
            _ => 0,
        };
        let decided = match call.limits {
            [(key, _)] => self.store.update_one(key.as_bytes(), now, |tat| {
                let decided = decide(&call, &[tat], now, draw)?;
                let change = decided.writes.first().map_or(Change::Keep, change_of);
                Ok::<_, Error>((decided, change))
            })?,
            limits => {
                let keys: Vec<&[u8]> = limits.iter().map(|(key, _)| key.as_bytes()).collect();
                self.store.update_many(&keys, now, |tats| {
                    let decided = decide(&call, tats, now, draw)?;
                    let changes = decided.writes.iter().map(change_of).collect();
                    Ok::<_, Error>((decided, changes))
                })?
            }
        };
        let decided = match decided.due {
            Some(due) => self.release(&call, due)?,
            None => decided,
        };
        Decision::from_reply(decided.reply(), call.quantity, call.mode)
    }

    /// Waits for a `BLOCK` reservation, then answers as the module does when it is due.
    fn release(&self, call: &Call<'_>, due: i64) -> Result<Decided, Error> {
        let mut now = self.clock.now_ns().ok_or(Error::Clock)?;
        while now < due {
            self.clock
                .sleep(Duration::from_nanos((due - now).unsigned_abs()));
            now = self.clock.now_ns().ok_or(Error::Clock)?;
        }
        let keys: Vec<&[u8]> = call.limits.iter().map(|(key, _)| key.as_bytes()).collect();
        Ok(released(call, &self.store.read(&keys), now)?)
    }
}

/// A checked write as the store's change.
fn change_of(write: &Write) -> Change {
    match *write {
        Write::Keep => Change::Keep,
        Write::Set { tat, .. } => Change::Set(i64::try_from(tat).unwrap_or(i64::MAX)),
        Write::Delete => Change::Delete,
    }
}
