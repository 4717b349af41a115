//! A seeded random number generator for test inputs.

/// xorshift64*: small, seedable, good enough to pick test inputs (the same seed gives the
/// same inputs on every run).
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)] // the tests call it by this name
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// In 0..=max, log-uniformly: each bit length equally likely, so tiny, middling and huge
    /// values all come up.
    pub fn log_uniform(&mut self, max: u64) -> u64 {
        let bits = self.below(65);
        let value = if bits == 0 {
            0
        } else {
            (1u64 << (bits - 1)) | (self.next() & ((1u64 << (bits - 1)) - 1))
        };
        value.min(max)
    }

    /// In -max..=max, its magnitude log-uniform.
    pub fn signed(&mut self, max: u64) -> i64 {
        let magnitude = self.log_uniform(max) as i64;
        if self.percent(50) {
            -magnitude
        } else {
            magnitude
        }
    }
}
