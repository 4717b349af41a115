//! Random draws for SOFT's admissions: xorshift64*, seeded from the clock at the first draw.
//!
//! Not cryptographic: a client that could predict draws would only learn when its next
//! request in the band is admitted, which the band's shape already bounds. Only the effect
//! (the TAT written) is replicated, so replicas never draw.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::clock;

/// Commands run on the main thread only: a relaxed load and store is enough.
static STATE: AtomicU64 = AtomicU64::new(0);

pub fn draw() -> u64 {
    let mut x = STATE.load(Relaxed);
    if x == 0 {
        // Any non-zero seed; the odd constant keeps it non-zero.
        x = clock::now_ns().map_or(0, |ns| ns as u64) | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    STATE.store(x, Relaxed);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_spread_over_the_range() {
        let draws: Vec<u64> = (0..10_000).map(|_| draw()).collect();
        let below_half = draws.iter().filter(|&&d| d % 1_000_000 < 500_000).count();
        assert!((4_500..=5_500).contains(&below_half), "{below_half}");
        // Whole draws never repeat back to back (the generator's state runs through all non-zero
        // values). Their remainders may: two in a row are equal once in 10^6, so about one run
        // in a hundred would see it among 10,000, which made this test fail now and then.
        assert!(draws.windows(2).all(|w| w[0] != w[1]));
    }
}
