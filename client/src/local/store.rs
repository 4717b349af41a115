//! The local limiter's state: one stored TAT per key in a concurrent map (papaya: lookups
//! take no lock and references stay valid while a guard is held), each slot one atomic
//! integer, as governor keeps its state:
//!
//! - one key (the hot path): load the TAT, decide, and compare-and-swap the new TAT in (a
//!   limited call writes nothing: it costs one load); another writer in between means
//!   deciding again on what it wrote;
//! - several keys: each slot is locked (swapped to a marker) in address order, so that two
//!   calls on overlapping keys cannot deadlock, then written and unlocked together.
//!
//! Expiry: a slot whose TAT is not after now is a full bucket, exactly like an absent key
//! (the module's key expires at its TAT), so a sweep removes it. Sweeps run in the caller
//! every time as many keys were inserted as the map held at the last sweep (amortized O(1)
//! per call), or when [`Store::sweep`] is called. A slot being removed is swapped to a dead
//! marker first, and a caller that meets a dead slot looks the key up again: no write is
//! ever made to a slot that left the map.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

/// A slot's value: a TAT (ns since the epoch, never negative) or one of these markers.
const EMPTY: i64 = i64::MIN;
const LOCKED: i64 = i64::MIN + 1;
const DEAD: i64 = i64::MIN + 2;

/// What a call does to one key's TAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Keep,
    Set(i64),
    Delete,
}

#[derive(Debug)]
pub(crate) struct Slot(AtomicI64);

impl Default for Slot {
    fn default() -> Slot {
        Slot(AtomicI64::new(EMPTY))
    }
}

fn tat_of(value: i64) -> Option<i64> {
    (value >= 0).then_some(value)
}

fn value_of(change: Change, old: i64) -> i64 {
    match change {
        Change::Keep => old,
        Change::Set(tat) => tat.max(0),
        Change::Delete => EMPTY,
    }
}

/// Waits a little for a slot held by a multi-key call.
fn back_off(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Sweeps start once this many keys were inserted, at least.
const MIN_SWEEP_INSERTS: usize = 1024;

pub(crate) struct Store {
    map: papaya::HashMap<Box<[u8]>, Slot, foldhash::fast::RandomState>,
    inserted: AtomicUsize,
    sweep_after: AtomicUsize,
    sweeping: AtomicBool,
}

impl Store {
    pub fn new() -> Store {
        Store {
            map: papaya::HashMap::builder()
                .hasher(foldhash::fast::RandomState::default())
                .resize_mode(papaya::ResizeMode::Blocking)
                .build(),
            inserted: AtomicUsize::new(0),
            sweep_after: AtomicUsize::new(MIN_SWEEP_INSERTS),
            sweeping: AtomicBool::new(false),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Decides on one key: `decide` gets its TAT (`None`: a full bucket) and returns an
    /// answer and the change to make; it may run again if another call wrote in between.
    #[inline]
    pub fn update_one<R, E>(
        &self,
        key: &[u8],
        now: i64,
        mut decide: impl FnMut(Option<i64>) -> Result<(R, Change), E>,
    ) -> Result<R, E> {
        let mut spins = 0;
        loop {
            let guard = self.map.guard();
            let slot = self.slot(key, &guard, now);
            loop {
                let old = slot.0.load(Ordering::Acquire);
                match old {
                    DEAD => break,
                    LOCKED => {
                        back_off(&mut spins);
                        continue;
                    }
                    _ => {}
                }
                let (answer, change) = decide(tat_of(old))?;
                if change == Change::Keep {
                    return Ok(answer);
                }
                let new = value_of(change, old);
                if slot
                    .0
                    .compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Ok(answer);
                }
            }
        }
    }

    /// Decides on several distinct keys at once: `decide` gets their TATs, in key order, and
    /// returns an answer and one change per key (or none: nothing written).
    pub fn update_many<R, E>(
        &self,
        keys: &[&[u8]],
        now: i64,
        decide: impl FnOnce(&[Option<i64>]) -> Result<(R, Vec<Change>), E>,
    ) -> Result<R, E> {
        let mut decide = Some(decide);
        loop {
            let guard = self.map.guard();
            let slots: Vec<&Slot> = keys.iter().map(|key| self.slot(key, &guard, now)).collect();
            let mut order: Vec<usize> = (0..slots.len()).collect();
            order.sort_by_key(|&i| slots.get(i).map_or(0, |slot| *slot as *const Slot as usize));
            let mut old = vec![EMPTY; slots.len()];
            let mut locked = Vec::with_capacity(slots.len());
            let mut dead = false;
            for &i in &order {
                let (Some(slot), Some(held)) = (slots.get(i), old.get_mut(i)) else {
                    continue;
                };
                match lock(slot) {
                    Some(value) => {
                        *held = value;
                        locked.push(i);
                    }
                    None => {
                        dead = true;
                        break;
                    }
                }
            }
            if dead {
                for &i in &locked {
                    if let (Some(slot), Some(&value)) = (slots.get(i), old.get(i)) {
                        slot.0.store(value, Ordering::Release);
                    }
                }
                continue;
            }
            let tats: Vec<Option<i64>> = old.iter().map(|&v| tat_of(v)).collect();
            let Some(decide) = decide.take() else {
                unreachable_unlock(&slots, &old);
                continue;
            };
            let result = decide(&tats);
            let changes = match &result {
                Ok((_, changes)) => changes.as_slice(),
                Err(_) => &[],
            };
            for (i, slot) in slots.iter().enumerate() {
                let before = old.get(i).copied().unwrap_or(EMPTY);
                let change = changes.get(i).copied().unwrap_or(Change::Keep);
                slot.0.store(value_of(change, before), Ordering::Release);
            }
            return result.map(|(answer, _)| answer);
        }
    }

    /// The TATs of several keys now (a `BLOCK` release reads them again).
    pub fn read(&self, keys: &[&[u8]]) -> Vec<Option<i64>> {
        let guard = self.map.guard();
        keys.iter()
            .map(|key| {
                let slot = self.map.get(*key, &guard)?;
                let mut spins = 0;
                loop {
                    match slot.0.load(Ordering::Acquire) {
                        LOCKED => back_off(&mut spins),
                        value => return tat_of(value),
                    }
                }
            })
            .collect()
    }

    /// The key's slot, inserted empty if absent.
    #[inline]
    fn slot<'g>(&self, key: &[u8], guard: &'g papaya::LocalGuard<'_>, now: i64) -> &'g Slot {
        if let Some(slot) = self.map.get(key, guard) {
            return slot;
        }
        let slot = self
            .map
            .get_or_insert_with(Box::from(key), Slot::default, guard);
        let inserted = self.inserted.fetch_add(1, Ordering::Relaxed) + 1;
        if inserted >= self.sweep_after.load(Ordering::Relaxed) {
            self.sweep(now);
        }
        slot
    }

    /// Removes every key whose bucket is full at `now` (its TAT is not after now); returns
    /// how many. One sweep at a time: a caller that finds one running returns 0.
    pub fn sweep(&self, now: i64) -> usize {
        if self.sweeping.swap(true, Ordering::Acquire) {
            return 0;
        }
        let before = self.map.len();
        self.map
            .pin()
            .retain(|_, slot| !kill_if(slot, |value| tat_of(value).is_none_or(|tat| tat <= now)));
        let after = self.map.len();
        self.inserted.store(0, Ordering::Relaxed);
        self.sweep_after
            .store(after.max(MIN_SWEEP_INSERTS), Ordering::Relaxed);
        self.sweeping.store(false, Ordering::Release);
        before.saturating_sub(after)
    }

    /// Forgets a key (a full bucket).
    pub fn remove(&self, key: &[u8]) {
        let map = self.map.pin();
        let _ = map.remove_if(key, |_, slot| kill_if(slot, |_| true));
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.map.pin().retain(|_, slot| !kill_if(slot, |_| true));
    }
}

/// Locks a slot for a multi-key call: its value before, or `None` if it is dead.
fn lock(slot: &Slot) -> Option<i64> {
    let mut spins = 0;
    loop {
        match slot.0.load(Ordering::Acquire) {
            DEAD => return None,
            LOCKED => back_off(&mut spins),
            value => {
                if slot
                    .0
                    .compare_exchange(value, LOCKED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(value);
                }
            }
        }
    }
}

/// Marks a slot dead if `should` says so of its value (waiting out a multi-key call).
fn kill_if(slot: &Slot, should: impl Fn(i64) -> bool) -> bool {
    let mut spins = 0;
    loop {
        match slot.0.load(Ordering::Acquire) {
            DEAD => return true,
            LOCKED => back_off(&mut spins),
            value if !should(value) => return false,
            value => {
                if slot
                    .0
                    .compare_exchange(value, DEAD, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return true;
                }
            }
        }
    }
}

/// Cannot happen (the decision runs once); puts the locked values back.
fn unreachable_unlock(slots: &[&Slot], old: &[i64]) {
    for (slot, &value) in slots.iter().zip(old) {
        slot.0.store(value, Ordering::Release);
    }
}
