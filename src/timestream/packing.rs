//! Where one WriteRecords call ends and the next begins: the cut that Timestream bills
//! least for.
//!
//! Timestream bills each request by the KiB, rounded up, and counts its
//! CommonAttributes once. So the cheapest cut keeps records that share dimensions,
//! measure name and time together, and fills calls toward whole KiB. Records arrive
//! here ordered by destination, target and measure name ([`super::batch`] sorts them);
//! a dynamic program over that order finds the cut with the fewest billed units (and,
//! among equal bills, the fewest calls), each call at most 100 records of one table,
//! among the cuts whose calls start inside the target of their last record or where a
//! target starts (a call that starts mid-way in an earlier target pays that target's
//! labels on each of its records there, and is not tried).
//!
//! The cost of a call is computed in O(1) from prefix sums, against what its records
//! surely share (the dimensions common to their whole target, or to their whole
//! destination when a call spans targets): an upper bound, never below the bill of the
//! call [`super::batch`] then builds, whose common attributes are the exact
//! intersection. Pure: plain numbers in, cut points out.

use super::batch::{BILLED_WRITE_UNIT_BYTES, MAX_RECORDS_PER_CALL};
use super::quota::limits::{DOUBLE_BYTES, TIME_BYTES};

/// What the cut needs to know of one record, in the order records will be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costed {
    /// Records with equal `segment` may share a call (one table).
    pub segment: u32,
    /// Records with equal `target` share `target_base` dimensions.
    pub target: u32,
    /// Bytes of the record's dimensions less those its whole target shares.
    pub own_in_target: u32,
    /// Bytes of the record's dimensions less those its whole segment shares.
    pub own_in_segment: u32,
    /// Bytes of the dimensions every record of its target has.
    pub target_base: u32,
    /// Bytes of the dimensions every record of its segment has.
    pub segment_base: u32,
    /// Equal for records of one measure name that are adjacent.
    pub measure: u32,
    pub measure_len: u32,
    pub time_ms: i64,
}

/// Ends of the calls (exclusive indices into `records`), in order; the last is
/// `records.len()`.
pub fn cut(records: &[Costed]) -> Vec<usize> {
    let n = records.len();
    if n == 0 {
        return Vec::new();
    }
    let sums = Sums::new(records);
    let units = |start: usize, end: usize| {
        sums.bytes(records, start, end)
            .div_ceil(BILLED_WRITE_UNIT_BYTES) as u64
    };
    // best[j]: the cheapest cut of records[..j], as (units << 20) + calls, and where its
    // last call starts. Adding a record never makes a cut cheaper, so `best` never
    // decreases along the records; and a call's units never decrease as it starts
    // earlier. So among the starts within the last record's target that give the last
    // call the same units, the earliest is best: only the first start of each step of
    // `units` is tried, found by binary search. A call that reaches into earlier targets
    // pays their `instance` on every record, so it starts where a target starts (or
    // where 100 records allow). A handful of starts per record, where trying every
    // start tried a hundred.
    let mut best: Vec<(u64, usize)> = Vec::with_capacity(n + 1);
    best.push((0, 0));
    for end in 1..=n {
        let earliest = end
            .saturating_sub(MAX_RECORDS_PER_CALL)
            .max(sums.at[end - 1].segment_run);
        let own_target = sums.at[end - 1].target_run.max(earliest);
        let mut choice = (u64::MAX, end - 1);
        let mut consider = |start: usize, units: u64| {
            let cost = best[start].0 + (units << 20) + 1;
            if cost < choice.0 {
                choice = (cost, start);
            }
        };
        let mut latest = end - 1;
        loop {
            let level = units(latest, end);
            // The first start in own_target..=latest whose call costs no more than `level`.
            let (mut low, mut high) = (own_target, latest);
            while low < high {
                let middle = low + (high - low) / 2;
                if units(middle, end) <= level {
                    high = middle;
                } else {
                    low = middle + 1;
                }
            }
            consider(low, level);
            if low == own_target {
                break;
            }
            latest = low - 1;
        }
        let mut start = own_target;
        while start > earliest {
            start = sums.at[start - 1].target_run.max(earliest);
            consider(start, units(start, end));
        }
        best.push(choice);
    }
    let mut ends = Vec::with_capacity(2 * n.div_ceil(MAX_RECORDS_PER_CALL));
    let mut end = n;
    while end > 0 {
        ends.push(end);
        end = best[end].1;
    }
    ends.reverse();
    ends
}

/// Prefix sums and run starts, so a call's bytes come in O(1); one array, so one
/// allocation.
struct Sums {
    /// `at[i]`: sums over `records[..i]`, and runs of record `i` (the last entry's runs
    /// are unused).
    at: Vec<Prefix>,
}

#[derive(Clone, Copy, Default)]
struct Prefix {
    own_in_target: u64,
    own_in_segment: u64,
    measure_len: u64,
    /// Where the run of records with the same segment (target, measure, time) as
    /// record `i` starts.
    segment_run: usize,
    target_run: usize,
    measure_run: usize,
    time_run: usize,
}

impl Sums {
    fn new(records: &[Costed]) -> Self {
        let mut at = Vec::with_capacity(records.len() + 1);
        let mut sum = Prefix::default();
        for (i, r) in records.iter().enumerate() {
            if let Some(previous) = i.checked_sub(1).map(|p| &records[p]) {
                if previous.segment != r.segment {
                    sum.segment_run = i;
                }
                if previous.target != r.target {
                    sum.target_run = i;
                }
                if previous.measure != r.measure {
                    sum.measure_run = i;
                }
                if previous.time_ms != r.time_ms {
                    sum.time_run = i;
                }
            }
            at.push(sum);
            sum.own_in_target += u64::from(r.own_in_target);
            sum.own_in_segment += u64::from(r.own_in_segment);
            sum.measure_len += u64::from(r.measure_len);
        }
        at.push(sum);
        Sums { at }
    }

    /// Bytes billed for one call of `records[start..end]`, as [`super::batch`]'s
    /// metering rule counts them, with common dimensions bounded from below.
    fn bytes(&self, records: &[Costed], start: usize, end: usize) -> usize {
        let (first, last, after) = (&self.at[start], &self.at[end - 1], &self.at[end]);
        let count = (end - start) as u64;
        let (base, own) = if last.target_run <= start {
            (
                records[start].target_base,
                after.own_in_target - first.own_in_target,
            )
        } else {
            (
                records[start].segment_base,
                after.own_in_segment - first.own_in_segment,
            )
        };
        let measure = if last.measure_run <= start {
            u64::from(records[start].measure_len)
        } else {
            after.measure_len - first.measure_len
        };
        let time = if last.time_run <= start {
            TIME_BYTES as u64
        } else {
            TIME_BYTES as u64 * count
        };
        (u64::from(base) + own + measure + time + DOUBLE_BYTES as u64 * count) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(target: u32, measure: u32, time_ms: i64) -> Costed {
        Costed {
            segment: 0,
            target,
            own_in_target: 10,
            own_in_segment: 40,
            target_base: 30,
            segment_base: 0,
            measure,
            measure_len: 20,
            time_ms,
        }
    }

    #[test]
    fn no_records_no_calls() {
        assert!(cut(&[]).is_empty());
    }

    #[test]
    fn calls_never_pass_100_records_or_a_segment() {
        let mut records: Vec<Costed> = (0..250).map(|i| record(0, i / 7, 1)).collect();
        for r in &mut records[120..] {
            r.segment = 1;
        }
        let ends = cut(&records);
        let mut start = 0;
        for &end in &ends {
            assert!(end - start <= MAX_RECORDS_PER_CALL);
            assert!(records[start..end]
                .iter()
                .all(|r| r.segment == records[start].segment));
            start = end;
        }
        assert_eq!(start, 250);
    }

    #[test]
    fn a_target_is_not_split_across_calls_when_that_costs_more() {
        // Two targets of 60 records: 60 + 60 costs 2 units (60 × 38 + 50 bytes each),
        // 100 + 20 would cost 4 (the call spanning targets pays every dimension).
        let records: Vec<Costed> = (0..120).map(|i| record(i / 60, i, 1)).collect();
        assert_eq!(cut(&records), [60, 120]);
    }

    /// The cut's (units, calls), by `sums`' metering.
    fn cost(records: &[Costed], ends: &[usize]) -> (usize, usize) {
        let sums = Sums::new(records);
        let mut start = 0;
        let units = ends
            .iter()
            .map(|&end| {
                let units = sums.bytes(records, start, end).div_ceil(1024);
                start = end;
                units
            })
            .sum();
        (units, ends.len())
    }

    /// The same search as [`cut`], every start tried: within the last record's target,
    /// and where an earlier target starts.
    fn cut_trying_every_start(records: &[Costed]) -> Vec<usize> {
        let sums = Sums::new(records);
        let mut best: Vec<(usize, usize, usize)> = vec![(0, 0, 0)];
        for end in 1..=records.len() {
            let earliest = end
                .saturating_sub(MAX_RECORDS_PER_CALL)
                .max(sums.at[end - 1].segment_run);
            let own_target = sums.at[end - 1].target_run.max(earliest);
            let targets = (earliest..own_target).filter(|&s| sums.at[s].target_run == s);
            let choice = (own_target..end)
                .chain(targets)
                .map(|start| {
                    let units = sums.bytes(records, start, end).div_ceil(1024);
                    (best[start].0 + units, best[start].1 + 1, start)
                })
                .min_by_key(|&(units, calls, _)| (units, calls))
                .unwrap();
            best.push(choice);
        }
        let mut ends = vec![records.len()];
        while best[*ends.last().unwrap()].2 > 0 {
            ends.push(best[*ends.last().unwrap()].2);
        }
        ends.reverse();
        ends
    }

    #[test]
    fn the_cut_bills_what_trying_every_start_bills() {
        // Targets, measure names, times and label sizes of many lengths, from a fixed
        // pseudo-random sequence.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below) as u32
        };
        for _ in 0..40 {
            let mut records = Vec::new();
            let (mut target, mut measure) = (0, 0);
            let records_a_target = 2 + u64::from(next(60));
            for _ in 0..(1 + next(700)) {
                if next(records_a_target) == 0 {
                    target += 1;
                }
                if next(4) == 0 {
                    measure += 1;
                }
                let mut r = record(target, measure, i64::from(target + next(2)));
                r.segment = target / 9;
                r.own_in_target = next(200);
                r.own_in_segment = r.own_in_target + r.target_base;
                r.measure_len = 1 + next(60);
                records.push(r);
            }
            // One measure name, one length.
            for i in 1..records.len() {
                if records[i].measure == records[i - 1].measure {
                    records[i].measure_len = records[i - 1].measure_len;
                }
            }
            assert_eq!(
                cost(&records, &cut(&records)),
                cost(&records, &cut_trying_every_start(&records))
            );
        }
    }

    #[test]
    fn the_cut_never_bills_more_than_calls_of_100_in_order() {
        let records: Vec<Costed> = (0..1000)
            .map(|i| record(i / 130, (i % 130) / 9, i64::from(i / 130)))
            .collect();
        let bill = |ends: &[usize]| cost(&records, ends).0;
        let naive: Vec<usize> = (1..=10).map(|k| k * 100).collect();
        let ends = cut(&records);
        assert!(
            bill(&ends) <= bill(&naive),
            "{} > {}",
            bill(&ends),
            bill(&naive)
        );
    }
}
