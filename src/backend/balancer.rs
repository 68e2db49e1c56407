//! Picks the replica of a shard that serves the next read: among the usable ones, by the
//! shard's policy (smooth weighted round robin, weighted random, least outstanding).

use std::sync::Mutex;

use crate::config::Balance;

/// What the balancer needs to know of one replica right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub weight: u32,
    /// Healthy and not excluded for this pick.
    pub usable: bool,
    /// Statements in flight on it (for `least_outstanding`).
    pub outstanding: usize,
}

/// Balancing state of one shard.
pub struct Balancer {
    policy: Balance,
    /// Smooth weighted round robin: each replica's current weight.
    current: Mutex<Vec<i64>>,
}

impl Balancer {
    pub fn new(policy: Balance, replicas: usize) -> Self {
        Balancer {
            policy,
            current: Mutex::new(vec![0; replicas]),
        }
    }

    /// The index of the replica to use, or `None` when no usable replica has a weight.
    pub fn pick(&self, candidates: &[Candidate]) -> Option<usize> {
        let usable = |c: &Candidate| c.usable && c.weight > 0;
        if !candidates.iter().any(usable) {
            return None;
        }
        match self.policy {
            Balance::RoundRobin => {
                let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
                current.resize(candidates.len(), 0);
                smooth_round_robin(candidates, &mut current)
            }
            Balance::WeightedRandom => {
                let total: u64 = candidates
                    .iter()
                    .filter(|c| usable(c))
                    .map(|c| u64::from(c.weight))
                    .sum();
                weighted_choice(candidates, rand::random_range(0..total))
            }
            Balance::LeastOutstanding => candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| usable(c))
                // Fewest in flight per unit of weight; compare a/wa < b/wb as a*wb < b*wa.
                .min_by(|(_, a), (_, b)| {
                    let l = a.outstanding as u128 * u128::from(b.weight);
                    let r = b.outstanding as u128 * u128::from(a.weight);
                    l.cmp(&r).then(b.weight.cmp(&a.weight))
                })
                .map(|(i, _)| i),
        }
    }
}

/// nginx's smooth weighted round robin: add each weight to its current value, pick the
/// largest, subtract the total from it. Exact shares, evenly interleaved.
fn smooth_round_robin(candidates: &[Candidate], current: &mut [i64]) -> Option<usize> {
    let mut total = 0i64;
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if !c.usable || c.weight == 0 {
            continue;
        }
        current[i] += i64::from(c.weight);
        total += i64::from(c.weight);
        if best.is_none_or(|b| current[i] > current[b]) {
            best = Some(i);
        }
    }
    if let Some(b) = best {
        current[b] -= total;
    }
    best
}

/// The usable candidate in whose weight range `point` (in `0..total usable weight`) falls.
fn weighted_choice(candidates: &[Candidate], mut point: u64) -> Option<usize> {
    for (i, c) in candidates.iter().enumerate() {
        if !c.usable || c.weight == 0 {
            continue;
        }
        if point < u64::from(c.weight) {
            return Some(i);
        }
        point -= u64::from(c.weight);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(weight: u32, usable: bool, outstanding: usize) -> Candidate {
        Candidate {
            weight,
            usable,
            outstanding,
        }
    }

    fn counts(b: &Balancer, cands: &[Candidate], n: usize) -> Vec<usize> {
        let mut out = vec![0; cands.len()];
        for _ in 0..n {
            out[b.pick(cands).expect("a pick")] += 1;
        }
        out
    }

    #[test]
    fn round_robin_gives_exact_shares_interleaved() {
        let b = Balancer::new(Balance::RoundRobin, 3);
        let cands = [c(5, true, 0), c(1, true, 0), c(1, true, 0)];
        let seq: Vec<usize> = (0..7).filter_map(|_| b.pick(&cands)).collect();
        assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0], "nginx's reference sequence");
        assert_eq!(counts(&b, &cands, 700), vec![500, 100, 100]);
    }

    #[test]
    fn unusable_and_zero_weight_replicas_are_skipped() {
        for policy in [
            Balance::RoundRobin,
            Balance::WeightedRandom,
            Balance::LeastOutstanding,
        ] {
            let b = Balancer::new(policy, 3);
            let cands = [c(3, false, 0), c(0, true, 0), c(1, true, 9)];
            assert_eq!(counts(&b, &cands, 50), vec![0, 0, 50], "{policy:?}");
            assert_eq!(b.pick(&[c(1, false, 0), c(0, true, 0)]), None, "{policy:?}");
        }
    }

    #[test]
    fn weighted_random_follows_weights() {
        let b = Balancer::new(Balance::WeightedRandom, 2);
        let got = counts(&b, &[c(3, true, 0), c(1, true, 0)], 40_000);
        let share = got[0] as f64 / 40_000.0;
        assert!((0.72..0.78).contains(&share), "{got:?}");
    }

    #[test]
    fn least_outstanding_prefers_idle_then_heavier() {
        let b = Balancer::new(Balance::LeastOutstanding, 3);
        assert_eq!(
            b.pick(&[c(1, true, 4), c(1, true, 1), c(1, true, 2)]),
            Some(1)
        );
        // 4 in flight on weight 4 beats 2 in flight on weight 1.
        assert_eq!(b.pick(&[c(4, true, 4), c(1, true, 2)]), Some(0));
        // ties go to the heavier replica
        assert_eq!(b.pick(&[c(1, true, 0), c(2, true, 0)]), Some(1));
    }
}
