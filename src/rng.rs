//! Deterministic draws for jitter and fault injection: a hash (SplitMix64) of a seed, two
//! names and a counter, mapped to [0, 1). The same inputs always give the same draw, whatever
//! order concurrent callers run in, so runs with a seed are reproducible. Not for anything
//! that needs unpredictability.

pub fn draw(seed: u64, a: &str, b: &str, n: u64) -> f64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for byte in a.bytes().chain([0]).chain(b.bytes()) {
        h = (h ^ byte as u64).wrapping_mul(0x100_0000_01B3);
    }
    let mut z = h.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_are_uniform_enough_and_repeatable() {
        let n = 10_000;
        let below: usize = (0..n)
            .filter(|&i| super::draw(7, "node", "step", i) < 0.2)
            .count();
        assert!((1_700..2_300).contains(&below), "{below}");
        assert_eq!(super::draw(1, "a", "b", 3), super::draw(1, "a", "b", 3));
    }
}
