//! The documented form of values Timestream cannot store: staleness markers, NaN and
//! ±Inf.
//!
//! Timestream refuses them as DOUBLE, and a measure name keeps the type of its first
//! write, so they cannot be another type under the metric's name. Such a sample is
//! written as a record of its series with one more dimension, `__value__`, that says
//! what it is, and a DOUBLE that keeps the rest of its bits:
//!
//! | sample | `__value__` | measure value |
//! |---|---|---|
//! | Prometheus' staleness marker (bits `0x7ff0000000000002`) | `stale` | 0 |
//! | +Inf, -Inf | `+Inf`, `-Inf` | 0 |
//! | any other NaN | `NaN` | its payload (the low 52 bits), negative when the sign bit is set |
//!
//! So every bit comes back, and a query of the table can leave them out with
//! `"__value__" IS NULL`. Prometheus never sends a label whose name starts with `__`
//! (other than `__name__`), so the dimension cannot meet one of its labels.
//!
//! Pure: values in, values out.

/// The dimension that marks a record holding one of these values.
pub const DIMENSION: &str = "__value__";

const STALE: &str = "stale";
const NAN: &str = "NaN";
const POSITIVE_INFINITY: &str = "+Inf";
const NEGATIVE_INFINITY: &str = "-Inf";

/// Every `__value__` a record may carry, in the order they are written.
pub const KINDS: [&str; 4] = [STALE, NAN, POSITIVE_INFINITY, NEGATIVE_INFINITY];

const STALE_BITS: u64 = crate::series::STALE_NAN_BITS;
const PAYLOAD: u64 = (1 << 52) - 1;
const SIGN: u64 = 1 << 63;
const EXPONENT: u64 = 0x7ff << 52;

/// The `__value__` and the stored DOUBLE for a non-finite `value`; `None` for a finite
/// one.
pub fn encode(value: f64) -> Option<(&'static str, f64)> {
    if value.is_finite() {
        return None;
    }
    let bits = value.to_bits();
    Some(match bits {
        STALE_BITS => (STALE, 0.0),
        _ if value == f64::INFINITY => (POSITIVE_INFINITY, 0.0),
        _ if value == f64::NEG_INFINITY => (NEGATIVE_INFINITY, 0.0),
        // A payload is below 2^52, so a DOUBLE holds it exactly; it is never 0 (that
        // would be an infinity), so the sign can ride on it.
        _ => {
            let payload = (bits & PAYLOAD) as f64;
            (NAN, if bits & SIGN != 0 { -payload } else { payload })
        }
    })
}

/// The value a record with `__value__` = `kind` and DOUBLE `stored` holds; `None` when
/// `kind` is not one of ours or `stored` is not a payload.
pub fn decode(kind: &str, stored: f64) -> Option<f64> {
    match kind {
        STALE => Some(f64::from_bits(STALE_BITS)),
        POSITIVE_INFINITY => Some(f64::INFINITY),
        NEGATIVE_INFINITY => Some(f64::NEG_INFINITY),
        NAN => {
            let payload = stored.abs();
            let valid = payload >= 1.0 && payload <= PAYLOAD as f64 && payload.fract() == 0.0;
            if !valid {
                return None;
            }
            let sign = if stored < 0.0 { SIGN } else { 0 };
            Some(f64::from_bits(sign | EXPONENT | payload as u64))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_non_finite_value_comes_back_bit_for_bit() {
        let values = [
            f64::from_bits(STALE_BITS),
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_0000_0000_0001), // Go's math.NaN()
            f64::from_bits(0xfff0_0000_0000_0001),
            f64::from_bits(0x7fff_ffff_ffff_ffff),
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for value in values {
            let (kind, stored) = encode(value).unwrap();
            assert!(stored.is_finite());
            assert_eq!(
                decode(kind, stored).map(f64::to_bits),
                Some(value.to_bits()),
                "{kind} {stored}"
            );
        }
        assert_eq!(encode(f64::from_bits(STALE_BITS)).unwrap().0, "stale");
        assert_eq!(encode(1.5), None);
    }

    #[test]
    fn what_is_not_ours_reads_as_nothing() {
        assert_eq!(decode("stale?", 0.0), None);
        assert_eq!(decode("NaN", 0.0), None);
        assert_eq!(decode("NaN", 0.5), None);
        assert_eq!(decode("NaN", 1e300), None);
    }
}
