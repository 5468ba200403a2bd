//! Latency distributions: exact up to a bound, then a bounded log-bucket sketch.
//!
//! A [`Distribution`] keeps every duration (as `f64`) until it holds `limit` of them; percentiles are then exact
//! (nearest rank: the value at rank ⌈p × n⌉ of the sorted durations). Past the bound the values move into a
//! [`Sketch`] (the DDSketch idea): bucket `i` holds the values in (γ^(i-1), γ^i] with γ = (1 + α) / (1 − α) and
//! α = 1 %, so every percentile it returns is within 1 % of a value of the right rank, and the number of buckets
//! grows with the logarithm of the range of values (about 1,200 buckets from 1 µs to 3 hours), never with their
//! number.

use std::collections::BTreeMap;

/// Relative error of the sketch.
pub(crate) const RELATIVE_ERROR: f64 = 0.01;
/// Values at or below this (ms) count as zero in the sketch.
const MIN_VALUE: f64 = 1e-6;

/// A bounded histogram with logarithmic buckets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sketch {
    buckets: BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
}

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

impl Sketch {
    pub(crate) fn add(&mut self, value: f64) {
        self.count += 1;
        if value <= MIN_VALUE {
            self.zeros += 1;
        } else {
            let index = (value.ln() / gamma().ln()).ceil() as i32;
            *self.buckets.entry(index).or_default() += 1;
        }
    }

    fn merge(&mut self, other: &Sketch) {
        self.count += other.count;
        self.zeros += other.zeros;
        for (index, count) in &other.buckets {
            *self.buckets.entry(*index).or_default() += count;
        }
    }

    /// The value of rank ⌈q × n⌉, within 1 %.
    fn quantile(&self, q: f64) -> f64 {
        let rank = rank(q, self.count);
        if rank <= self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (index, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                let gamma = gamma();
                return 2.0 * gamma.powi(*index) / (gamma + 1.0);
            }
        }
        0.0
    }
}

/// The 1-based nearest rank of quantile `q` among `n` values.
fn rank(q: f64, n: u64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n.max(1))
}

/// The durations of one bin (and path).
#[derive(Debug, Clone, Default)]
pub(crate) struct Distribution {
    pub count: u64,
    pub sum: f64,
    exact: Vec<f64>,
    sketch: Option<Sketch>,
}

/// What a distribution reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub exact: bool,
}

impl Distribution {
    pub(crate) fn add(&mut self, value: f64, limit: usize) {
        self.count += 1;
        self.sum += value;
        if let Some(sketch) = &mut self.sketch {
            sketch.add(value);
        } else {
            self.exact.push(value);
            if self.exact.len() > limit {
                self.spill();
            }
        }
    }

    fn spill(&mut self) {
        let mut sketch = self.sketch.take().unwrap_or_default();
        for value in self.exact.drain(..) {
            sketch.add(value);
        }
        self.exact = Vec::new();
        self.sketch = Some(sketch);
    }

    pub(crate) fn merge(&mut self, mut other: Distribution, limit: usize) {
        self.count += other.count;
        self.sum += other.sum;
        if self.sketch.is_none() && other.sketch.is_none() && self.exact.len() + other.exact.len() <= limit {
            self.exact.append(&mut other.exact);
            return;
        }
        self.spill();
        let sketch = self.sketch.get_or_insert_with(Sketch::default);
        for value in other.exact {
            sketch.add(value);
        }
        if let Some(other) = other.sketch {
            sketch.merge(&other);
        }
    }

    pub(crate) fn summary(mut self) -> Summary {
        let mean = if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        };
        if let Some(sketch) = self.sketch {
            return Summary {
                count: self.count,
                mean,
                p50: sketch.quantile(0.50),
                p95: sketch.quantile(0.95),
                p99: sketch.quantile(0.99),
                exact: false,
            };
        }
        self.exact.sort_unstable_by(f64::total_cmp);
        // Summed in sorted order, so that the mean does not depend on how the input was split among workers.
        let mean = if self.exact.is_empty() {
            mean
        } else {
            self.exact.iter().sum::<f64>() / self.exact.len() as f64
        };
        let n = self.exact.len() as u64;
        let at = |q: f64| self.exact.get((rank(q, n) - 1) as usize).copied().unwrap_or(0.0);
        Summary {
            count: self.count,
            mean,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            exact: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_percentiles_are_nearest_rank() {
        let mut distribution = Distribution::default();
        for value in 1..=100 {
            distribution.add(f64::from(value), 1000);
        }
        let summary = distribution.summary();
        assert!(summary.exact);
        assert_eq!((summary.p50, summary.p95, summary.p99), (50.0, 95.0, 99.0));
        assert!((summary.mean - 50.5).abs() < 1e-9);
    }

    #[test]
    fn the_sketch_stays_within_one_percent() {
        let (mut exact, mut sketched) = (Distribution::default(), Distribution::default());
        for value in 1..=100_000 {
            let value = f64::from(value) / 7.0;
            exact.add(value, usize::MAX);
            sketched.add(value, 100);
        }
        let (exact, sketched) = (exact.summary(), sketched.summary());
        assert!(!sketched.exact);
        for (want, got) in [
            (exact.p50, sketched.p50),
            (exact.p95, sketched.p95),
            (exact.p99, sketched.p99),
        ] {
            assert!((got - want).abs() / want <= RELATIVE_ERROR, "{got} vs {want}");
        }
    }
}
