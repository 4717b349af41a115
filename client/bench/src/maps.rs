//! Which concurrent map for the local provider: papaya, dashmap and scc under its workload
//! (find or insert a key, then change its TAT), from 1 and 16 threads, on a hot key and on
//! 100,000 keys, all with the same hasher (foldhash). papaya as the provider uses it: a
//! lookup without a lock, the TAT an atomic changed by compare-and-swap; dashmap and scc
//! change it in place under their shard or bucket lock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

type Hasher = foldhash::fast::RandomState;

use crate::measure::{threads, Sample};

const KEYS: usize = 100_000;

fn step(tat: &mut i64, i: u64) {
    *tat = (*tat).max(i as i64) + 1;
}

fn keys() -> Vec<Box<[u8]>> {
    (0..KEYS)
        .map(|i| format!("user:{i}").into_bytes().into_boxed_slice())
        .collect()
}

fn key_index(hot: bool, worker: usize, i: u64) -> usize {
    if hot {
        0
    } else {
        (i as usize * 7919 + worker * 104_729) % KEYS
    }
}

pub fn papaya(workers: usize, hot: bool, run: Duration) -> Sample {
    let map: papaya::HashMap<Box<[u8]>, AtomicI64, Hasher> = papaya::HashMap::builder()
        .hasher(Hasher::default())
        .resize_mode(papaya::ResizeMode::Blocking)
        .build();
    let keys = keys();
    threads(workers, run, |worker, i| {
        let key = &keys[key_index(hot, worker, i)];
        let guard = map.guard();
        let slot = match map.get(&key[..], &guard) {
            Some(slot) => slot,
            None => map.get_or_insert_with(key.clone(), || AtomicI64::new(0), &guard),
        };
        let mut old = slot.load(Ordering::Acquire);
        loop {
            let mut new = old;
            step(&mut new, i);
            match slot.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => old = now,
            }
        }
    })
}

pub fn dashmap(workers: usize, hot: bool, run: Duration) -> Sample {
    let map: dashmap::DashMap<Box<[u8]>, i64, Hasher> =
        dashmap::DashMap::with_hasher(Hasher::default());
    let keys = keys();
    threads(workers, run, |worker, i| {
        let key = &keys[key_index(hot, worker, i)];
        match map.get_mut(&key[..]) {
            Some(mut tat) => step(&mut tat, i),
            None => step(&mut map.entry(key.clone()).or_insert(0), i),
        }
        true
    })
}

pub fn scc(workers: usize, hot: bool, run: Duration) -> Sample {
    let map: scc::HashMap<Box<[u8]>, i64, Hasher> = scc::HashMap::with_hasher(Hasher::default());
    let keys = keys();
    threads(workers, run, |worker, i| {
        let key = &keys[key_index(hot, worker, i)];
        if map.update(&key[..], |_, tat| step(tat, i)).is_none() {
            step(&mut map.entry(key.clone()).or_insert(0), i);
        }
        true
    })
}
