//! The local limiter's state: one stored TAT per key in a concurrent map (papaya: lookups
//! take no lock, so a hot key costs only its own slot's lock), each slot behind its own
//! mutex. Keys are limited together by locking their slots in address order (no deadlock).
//!
//! Expiry: a slot whose TAT is not after now is a full bucket, exactly like an absent key
//! (the module's key expires at its TAT), so a sweep removes it. Sweeps run in the caller
//! every time as many keys were inserted as the map held at the last sweep (amortized O(1)
//! per call), or when [`Store::sweep`] is called. A slot being removed is marked dead under
//! its lock, and a caller that finds its slot dead looks the key up again: no write is ever
//! made to a slot that left the map.

use std::collections::hash_map::RandomState;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A key's stored state.
#[derive(Debug, Default)]
pub(crate) struct SlotState {
    /// The TAT in ns since the epoch; `None` when the key holds nothing (a full bucket).
    pub tat: Option<i64>,
    dead: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Slot(Mutex<SlotState>);

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // A panic while holding a slot cannot leave a half-written TAT: recover the value.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Sweeps start once this many keys were inserted, at least.
const MIN_SWEEP_INSERTS: usize = 1024;

pub(crate) struct Store {
    map: papaya::HashMap<Box<[u8]>, Slot, RandomState>,
    inserted: AtomicUsize,
    sweep_after: AtomicUsize,
    sweeping: AtomicBool,
}

impl Store {
    pub fn new() -> Store {
        Store {
            map: papaya::HashMap::builder()
                .hasher(RandomState::new())
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

    /// Runs `f` on one key's state, locked. `now` decides sweeps.
    #[inline]
    pub fn with_one<R>(&self, key: &[u8], now: i64, f: impl FnOnce(&mut SlotState) -> R) -> R {
        let mut f = Some(f);
        loop {
            let guard = self.map.guard();
            let slot = self.slot(key, &guard, now);
            let mut state = slot.lock();
            if state.dead {
                continue;
            }
            if let Some(f) = f.take() {
                return f(&mut state);
            }
        }
    }

    /// Runs `f` on several distinct keys' states, all locked at once, in key order.
    pub fn with_many<R>(
        &self,
        keys: &[&[u8]],
        now: i64,
        f: impl FnOnce(&mut [&mut SlotState]) -> R,
    ) -> R {
        let mut f = Some(f);
        loop {
            let guard = self.map.guard();
            let slots: Vec<&Slot> = keys.iter().map(|key| self.slot(key, &guard, now)).collect();
            let mut order: Vec<usize> = (0..slots.len()).collect();
            order.sort_by_key(|&i| slots.get(i).map_or(0, |slot| *slot as *const Slot as usize));
            let mut locked: Vec<(usize, MutexGuard<'_, SlotState>)> =
                Vec::with_capacity(slots.len());
            for &i in &order {
                if let Some(slot) = slots.get(i) {
                    locked.push((i, slot.lock()));
                }
            }
            if locked.iter().any(|(_, state)| state.dead) {
                continue;
            }
            locked.sort_by_key(|(i, _)| *i);
            let mut states: Vec<&mut SlotState> =
                locked.iter_mut().map(|(_, s)| &mut **s).collect();
            if let Some(f) = f.take() {
                return f(&mut states);
            }
        }
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
        self.map.pin().retain(|_, slot| {
            let mut state = slot.lock();
            if state.tat.is_some_and(|tat| tat > now) {
                return true;
            }
            state.dead = true;
            false
        });
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
        let _ = map.remove_if(key, |_, slot| {
            slot.lock().dead = true;
            true
        });
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.map.pin().retain(|_, slot| {
            slot.lock().dead = true;
            false
        });
    }
}
