//! Timestream's time functions, as DataFusion scalar functions. Time is
//! `Timestamp(Nanosecond, None)` throughout, as Timestream's TIMESTAMP is (UTC, ns).
//!
//! `regexp_like` needs nothing here: DataFusion's is, like Timestream's, a match anywhere
//! in the string.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, TimestampNanosecondArray};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
    TimestampNanosecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub const TIMESTAMP: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);
const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Now,
    Ago,
    Bin,
    FromMilliseconds,
    FromNanoseconds,
    FromUnixtime,
    ToMilliseconds,
    ToNanoseconds,
}

/// One Timestream function; `now` is the query's start, so that every `now()` and
/// `ago()` of a query sees the same instant.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeFunction {
    kind: Kind,
    name: &'static str,
    now: i64,
    signature: Signature,
}

/// The functions, for a query starting at `now` (ns since the epoch).
pub fn all(now: i64) -> Vec<ScalarUDF> {
    [
        (Kind::Now, "now"),
        (Kind::Ago, "ago"),
        (Kind::Bin, "bin"),
        (Kind::FromMilliseconds, "from_milliseconds"),
        (Kind::FromNanoseconds, "from_nanoseconds"),
        (Kind::FromUnixtime, "from_unixtime"),
        (Kind::ToMilliseconds, "to_milliseconds"),
        (Kind::ToNanoseconds, "to_nanoseconds"),
    ]
    .into_iter()
    .map(|(kind, name)| {
        let volatility = match kind {
            Kind::Now | Kind::Ago => Volatility::Stable,
            _ => Volatility::Immutable,
        };
        ScalarUDF::from(TimeFunction {
            kind,
            name,
            now,
            signature: Signature::user_defined(volatility),
        })
    })
    .collect()
}

impl TimeFunction {
    fn arguments(&self) -> Vec<DataType> {
        match self.kind {
            Kind::Now => vec![],
            Kind::Ago => vec![INTERVAL],
            Kind::Bin => vec![TIMESTAMP, INTERVAL],
            Kind::FromMilliseconds | Kind::FromNanoseconds => vec![DataType::Int64],
            Kind::FromUnixtime => vec![DataType::Float64],
            Kind::ToMilliseconds | Kind::ToNanoseconds => vec![TIMESTAMP],
        }
    }
}

impl ScalarUDFImpl for TimeFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let wanted = self.arguments();
        if arg_types.len() != wanted.len() {
            return plan_err!(
                "Function {} expects {} arguments, got {}",
                self.name,
                wanted.len(),
                arg_types.len()
            );
        }
        Ok(wanted)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::ToMilliseconds | Kind::ToNanoseconds => DataType::Int64,
            _ => TIMESTAMP,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .into_iter()
            .map(|a| a.into_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let out: ArrayRef = match self.kind {
            Kind::Now => Arc::new(TimestampNanosecondArray::from(vec![self.now; rows])),
            Kind::Ago => Arc::new(
                arrays[0]
                    .as_primitive::<IntervalMonthDayNanoType>()
                    .try_unary::<_, TimestampNanosecondType, _>(|iv| {
                        interval_nanos(iv)
                            .and_then(|nanos| self.now.checked_sub(nanos))
                            .ok_or_else(|| out_of_range("ago"))
                    })?,
            ),
            Kind::Bin => {
                let times = arrays[0].as_primitive::<TimestampNanosecondType>();
                let widths = arrays[1].as_primitive::<IntervalMonthDayNanoType>();
                let mut out = Vec::with_capacity(rows);
                for i in 0..times.len() {
                    if times.is_null(i) || widths.is_null(i) {
                        out.push(None);
                        continue;
                    }
                    let Some(width) = interval_nanos(widths.value(i)) else {
                        return Err(out_of_range("bin").into());
                    };
                    if width <= 0 {
                        return exec_err!("bin: the interval must be positive");
                    }
                    let binned = times.value(i).div_euclid(width).checked_mul(width);
                    out.push(Some(binned.ok_or_else(|| out_of_range("bin"))?));
                }
                Arc::new(TimestampNanosecondArray::from(out))
            }
            Kind::FromMilliseconds => Arc::new(
                arrays[0]
                    .as_primitive::<Int64Type>()
                    .unary::<_, TimestampNanosecondType>(|ms| ms.saturating_mul(1_000_000)),
            ),
            Kind::FromNanoseconds => Arc::new(
                arrays[0]
                    .as_primitive::<Int64Type>()
                    .unary::<_, TimestampNanosecondType>(|ns| ns),
            ),
            Kind::FromUnixtime => Arc::new(
                arrays[0]
                    .as_primitive::<Float64Type>()
                    .unary::<_, TimestampNanosecondType>(|s| (s * 1e9).round() as i64),
            ),
            Kind::ToMilliseconds => Arc::new(
                arrays[0]
                    .as_primitive::<TimestampNanosecondType>()
                    .unary::<_, Int64Type>(|ns| ns.div_euclid(1_000_000)),
            ),
            Kind::ToNanoseconds => Arc::new(
                arrays[0]
                    .as_primitive::<TimestampNanosecondType>()
                    .unary::<_, Int64Type>(|ns| ns),
            ),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// An interval's length in nanoseconds (a month counts as 30 days; Timestream's
/// intervals are day-to-second, so months only come from spelled-out SQL intervals),
/// or `None` past what nanoseconds since the epoch can hold.
fn interval_nanos(iv: datafusion::arrow::datatypes::IntervalMonthDayNano) -> Option<i64> {
    (iv.months as i64 * 30 + iv.days as i64)
        .checked_mul(NS_PER_DAY)?
        .checked_add(iv.nanoseconds)
}

/// A user's time arithmetic past the range of timestamps: an error of the query, not a
/// panic (nor, in release builds, a wrapped-around time).
fn out_of_range(function: &str) -> ArrowError {
    ArrowError::ComputeError(format!(
        "{function}: the result is outside the range of timestamps"
    ))
}
