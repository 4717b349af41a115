//! Limiter state on keys: what a key holds, for the pipeline, and a prepared write applied
//! with its effect replicated.
//!
//! The format is the core's (`gcra_core::state`): a plain string key holding the TAT as
//! decimal nanoseconds since the epoch, expiring at the TAT. Writes go through the key API,
//! which Redis does not propagate by itself, so each write also replicates its *effect*
//! (`SET key tat PXAT ms` or `DEL key`): replicas and AOF replays need no module and end with
//! byte-identical values.

#![forbid(unsafe_code)]

use gcra_core::pipeline::{Keys, Request, Stored, Write};
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

/// CL.THROTTLE's one key, opened for writing when the pipeline reads it.
pub struct OneKey<'a> {
    call: &'a Call<'a>,
    limiter: Option<Limiter<'a>>,
}

impl<'a> OneKey<'a> {
    pub fn new(call: &'a Call<'a>) -> OneKey<'a> {
        OneKey {
            call,
            limiter: None,
        }
    }

    /// The limiter, once read.
    pub fn opened(&mut self) -> &mut [Limiter<'a>] {
        self.limiter.as_mut_slice()
    }
}

impl Keys for OneKey<'_> {
    #[inline(always)]
    fn stored(&mut self, _index: usize) -> Result<Stored<'_>, Error> {
        let limiter = Limiter::open(self.call, self.call.arg(0)?)?;
        Ok(self.limiter.insert(limiter).stored())
    }
}

/// CL.THROTTLEALL's keys, each opened for writing when the pipeline reads it (a bad key
/// stops the call before the keys after it are opened).
pub struct AllKeys<'a, 'r> {
    call: &'a Call<'a>,
    request: &'r Request,
    limiters: Vec<Limiter<'a>>,
}

impl<'a, 'r> AllKeys<'a, 'r> {
    pub fn new(call: &'a Call<'a>, request: &'r Request) -> AllKeys<'a, 'r> {
        AllKeys {
            call,
            request,
            limiters: Vec::with_capacity(request.limits().len()),
        }
    }

    /// The limiters read so far, in key order.
    pub fn opened(&mut self) -> &mut [Limiter<'a>] {
        &mut self.limiters
    }
}

impl Keys for AllKeys<'_, '_> {
    fn stored(&mut self, index: usize) -> Result<Stored<'_>, Error> {
        let at = self.request.key_position(index).ok_or(Error::Internal)?;
        self.limiters
            .push(Limiter::open(self.call, self.call.arg(at)?)?);
        Ok(self.limiters.last().map_or(Stored::Absent, Limiter::stored))
    }
}

/// CL.PEEK's key, opened for reading only (so it also works on read-only replicas).
pub struct ReadOnlyKey<'a> {
    call: &'a Call<'a>,
    key: Option<ReadKey<'a>>,
}

impl<'a> ReadOnlyKey<'a> {
    pub fn new(call: &'a Call<'a>) -> ReadOnlyKey<'a> {
        ReadOnlyKey { call, key: None }
    }
}

impl Keys for ReadOnlyKey<'_> {
    fn stored(&mut self, _index: usize) -> Result<Stored<'_>, Error> {
        let key = ReadKey::open(self.call, self.call.arg(0)?)?;
        Ok(self
            .key
            .insert(key)
            .read()
            .map_or(Stored::Absent, Stored::Value))
    }
}
