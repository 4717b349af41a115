//! Limiter state on keys: what a key holds, for the pipeline, and a prepared write applied
//! with its effect replicated.
//!
//! The format is the core's (`gcra_core::state`): a plain string key holding the TAT as
//! decimal nanoseconds since the epoch, expiring at the TAT. Writes go through the key API,
//! which Redis does not propagate by itself, so each write also replicates its *effect*
//! (`SET key tat PXAT ms` or `DEL key`): replicas and AOF replays need no module and end with
//! byte-identical values.

#![forbid(unsafe_code)]

use gcra_core::pipeline::{Stored, Write};
use gcra_core::state::digits;
use gcra_core::Error;

use crate::host::{Arg, Call, Event, Key, ReadKey};

/// A limiter's key, opened for reading and writing once for the whole command.
pub struct Limiter<'a> {
    call: &'a Call<'a>,
    key: Key<'a>,
}

impl<'a> Limiter<'a> {
    /// Opens the limiter's key: `WRONGTYPE` for a type other than a string.
    #[inline]
    pub fn open(call: &'a Call<'a>, name: Arg<'a>) -> Result<Limiter<'a>, Error> {
        Ok(Limiter {
            call,
            key: Key::open(call, name)?,
        })
    }

    /// What the key holds now.
    #[inline]
    pub fn stored(&self) -> Stored<'_> {
        self.key.read().map_or(Stored::Absent, Stored::Value)
    }

    /// The key's name.
    pub fn name(&self) -> &[u8] {
        self.key.name().bytes()
    }

    /// Writes, replicates and announces a prepared change: the value in place, its expiry,
    /// then `SET key tat PXAT ms` to replicas and AOF and the events SET would send (or the
    /// same for DEL). Cannot fail.
    pub fn commit(&mut self, write: &Write) {
        let name = self.key.name();
        match write {
            Write::Keep => return,
            Write::Set { tat, expire_at_ms } => {
                let (tat, expire_at) = digits(*tat, *expire_at_ms);
                self.key.overwrite(tat.as_bytes());
                self.key.expire_at(*expire_at_ms);
                self.call
                    .replicate_set_pxat(name, tat.as_bytes(), expire_at.as_bytes());
                self.call.notify(Event::Set, name);
                self.call.notify(Event::Expire, name);
            }
            Write::Delete => {
                self.key.delete();
                self.call.replicate_del(name);
                self.call.notify(Event::Del, name);
            }
        }
        self.call.signal_modified(name);
    }
}

/// A limiter's key opened for reading only (CL.PEEK, also on read-only replicas):
/// `WRONGTYPE` for a type other than a string.
pub fn read_only<'a>(call: &'a Call<'a>, name: Arg<'a>) -> Result<ReadKey<'a>, Error> {
    ReadKey::open(call, name)
}

/// What a key opened for reading holds.
pub fn stored<'k>(key: &'k ReadKey<'_>) -> Stored<'k> {
    key.read().map_or(Stored::Absent, Stored::Value)
}
