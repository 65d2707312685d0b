//! A call as the official SDK's request objects, built as the connector built them
//! before it serialized its own: the reference the wire test compares with, and the
//! cost the write bench measures for scale.

use aws_sdk_timestreamwrite::types::{Dimension, MeasureValue, MeasureValueType, Record, TimeUnit};
use timestream_prometheus_connector::timestream::batch::WriteCall;
use timestream_prometheus_connector::timestream::exemplars;
use timestream_prometheus_connector::timestream::histograms::Stored;

/// The SDK's records for `call`, as the connector built them before it wrote its own.
pub fn sdk_records(call: &WriteCall<'_>) -> (Record, Vec<Record>) {
    let dims = |labels: Vec<(&str, &str)>| {
        (!labels.is_empty()).then(|| {
            labels
                .into_iter()
                .map(|(n, v)| Dimension::builder().name(n).value(v).build().unwrap())
                .collect::<Vec<_>>()
        })
    };
    let common = &call.common;
    let common_record = Record::builder()
        .measure_value_type(if call.is_multi_measure() {
            MeasureValueType::Multi
        } else {
            MeasureValueType::Double
        })
        .time_unit(TimeUnit::Milliseconds)
        .set_measure_name(common.measure.map(str::to_string))
        .set_time(common.time_ms.map(|t| t.to_string()))
        .set_dimensions(dims(
            common
                .dimensions
                .iter()
                .map(|l| (l.name, l.value))
                .collect(),
        ))
        .build();
    let records = call
        .records
        .iter()
        .map(|r| {
            let value = (r.histogram.is_none() && r.multi.is_none())
                .then(|| ryu::Buffer::new().format_finite(r.sample.value).to_string());
            let multi = r.multi.map(|measures| {
                measures
                    .iter()
                    .map(|m| {
                        MeasureValue::builder()
                            .name(m.name)
                            .value(ryu::Buffer::new().format_finite(m.value))
                            .r#type(MeasureValueType::Double)
                            .build()
                            .unwrap()
                    })
                    .collect()
            });
            Record::builder()
                .set_measure_value(value)
                .set_measure_values(r.histogram.map(measure_values).or(multi))
                .set_measure_name(common.measure.is_none().then(|| r.measure.to_string()))
                .set_time(
                    common
                        .time_ms
                        .is_none()
                        .then(|| r.sample.timestamp_ms.to_string()),
                )
                .set_dimensions(dims({
                    let mut own: Vec<(&str, &str)> = r
                        .own_dimensions(common)
                        .map(|l| (l.name, l.value))
                        .collect();
                    if let Some(exemplar) = r.exemplar {
                        own.push((exemplars::METRIC, exemplar.metric));
                        own.push((exemplars::LABELS, &exemplar.labels));
                    }
                    own
                }))
                .build()
        })
        .collect();
    (common_record, records)
}

/// A native histogram's measures as the SDK's objects.
fn measure_values(stored: &Stored) -> Vec<MeasureValue> {
    stored
        .measures
        .iter()
        .map(|m| {
            MeasureValue::builder()
                .name(m.name)
                .value(&m.value)
                .r#type(MeasureValueType::from(m.kind.as_str()))
                .build()
                .unwrap()
        })
        .collect()
}
