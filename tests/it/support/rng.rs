//! A small seeded generator, so a test that draws values can be replayed from
//! its seed. Self-contained on purpose: the unit tests in src/ include this
//! same file with `#[path = "../tests/it/support/rng.rs"] mod rng;`.

/// The unit tests' LCG (Knuth's MMIX constants); each value is drawn from the
/// state's top 31 bits.
#[allow(dead_code)]
pub struct Rng(u64);

#[allow(dead_code)]
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next value, in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[test]
fn the_sequence_is_the_unit_tests_lcg() {
    // The formula as the unit tests wrote it, apart from Rng.
    let mut seed: u64 = 0x5eed;
    let mut lcg = |below: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % below.max(1)
    };
    let expected = [lcg(1000), lcg(7), lcg(0)].map(|v| v as u64);
    let mut rng = Rng::new(0x5eed);
    assert_eq!([rng.below(1000), rng.below(7), rng.below(0)], expected);
    assert_eq!(expected[2], 0, "nothing below 0 but 0");
}
