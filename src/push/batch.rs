//! What a push becomes: series in a [`SeriesBatch`], ready for the ingest pipeline.
//!
//! - A Pushgateway push: the grouping key's labels replace the same labels of every
//!   sample (as the Pushgateway exposes them), `push_time_seconds` is added for the
//!   group, samples without a timestamp get the time of receipt, and the same series
//!   twice refuses the body.
//! - JSON events: each metric of an event a series named after it, the event's
//!   dimensions its labels, and which item (event, queue message) each series came from.
//!
//! Labels stay borrowed from the parsed body and the grouping key.

use std::collections::HashSet;

use super::events::Event;
use super::grouping::GroupingKey;
use super::{Exposition, PushError};
use crate::series::{Label, Sample, SeriesBatch, METRIC_NAME_LABEL};

/// The metric the Pushgateway adds to every group it was pushed to, with the time of the
/// last successful push in seconds.
pub const PUSH_TIME_METRIC: &str = "push_time_seconds";

/// The series of a push to the group `key`, received at `received_ms`.
pub fn pushed<'b>(
    exposition: &'b Exposition<'_>,
    key: &'b GroupingKey,
    received_ms: i64,
) -> Result<SeriesBatch<'b>, PushError> {
    let grouping: Vec<Label<'b>> = key
        .labels
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| Label { name, value })
        .collect();
    let mut batch = SeriesBatch::with_capacity(
        exposition.samples.len() + 1,
        exposition.labels.len() + (exposition.samples.len() + 1) * (grouping.len() + 1),
        exposition.samples.len() + 1,
    );
    let mut labels: Vec<Label<'b>> = Vec::new();
    for sample in &exposition.samples {
        labels.clear();
        labels.push(Label {
            name: METRIC_NAME_LABEL,
            value: &sample.name,
        });
        labels.extend(grouping.iter().copied());
        // An empty value is an absent label, and the grouping key wins over the body.
        labels.extend(
            exposition
                .labels_of(sample)
                .iter()
                .filter(|l| !l.value.is_empty() && key.get(&l.name).is_none())
                .map(|l| Label {
                    name: &l.name,
                    value: &l.value,
                }),
        );
        labels.sort_unstable_by(|a, b| a.name.cmp(b.name));
        let sample = Sample {
            value: sample.value,
            timestamp_ms: sample.timestamp_ms.unwrap_or(received_ms),
        };
        batch.push(&labels, &[sample]);
    }
    refuse_duplicates(&batch)?;
    labels.clear();
    labels.push(Label {
        name: METRIC_NAME_LABEL,
        value: PUSH_TIME_METRIC,
    });
    labels.extend(grouping.iter().copied());
    labels.sort_unstable_by(|a, b| a.name.cmp(b.name));
    batch.push(
        &labels,
        &[Sample {
            value: received_ms as f64 / 1000.0,
            timestamp_ms: received_ms,
        }],
    );
    Ok(batch)
}

/// The same labels twice in one push: the Pushgateway refuses the body.
fn refuse_duplicates(batch: &SeriesBatch<'_>) -> Result<(), PushError> {
    let mut seen = HashSet::with_capacity(batch.len());
    for series in batch.iter() {
        if !seen.insert(series.labels) {
            return Err(PushError::Duplicate(series.display()));
        }
    }
    Ok(())
}

/// The series of `events`, each given with the index of what answers for it (an event
/// of a body, a queue message) and the time its samples take when it has none; and for
/// each series that index.
pub fn events<'b>(
    events: impl IntoIterator<Item = (u32, &'b Event<'b>, i64)>,
) -> (SeriesBatch<'b>, Vec<u32>) {
    let mut batch = SeriesBatch::default();
    let mut owners = Vec::new();
    let mut labels: Vec<Label<'b>> = Vec::new();
    for (owner, event, default_ms) in events {
        let timestamp_ms = event.timestamp_ms.unwrap_or(default_ms);
        for (metric, value) in &event.metrics {
            labels.clear();
            labels.push(Label {
                name: METRIC_NAME_LABEL,
                value: metric,
            });
            labels.extend(
                event
                    .dimensions
                    .iter()
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(name, value)| Label { name, value }),
            );
            labels.sort_unstable_by(|a, b| a.name.cmp(b.name));
            batch.push(
                &labels,
                &[Sample {
                    value: *value,
                    timestamp_ms,
                }],
            );
            owners.push(owner);
        }
    }
    (batch, owners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{events, grouping, text};

    fn labels(batch: &SeriesBatch<'_>, index: usize) -> Vec<(String, String)> {
        batch
            .get(index)
            .labels
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_grouping_key_wins_and_push_time_closes_the_batch() {
        let body = "a{job=\"body\",zone=\"z\",empty=\"\"} 1\nb 2 1000\n";
        let exposition = text::parse(body).unwrap();
        let key = grouping::parse("job/nightly/zone/path").unwrap();
        let batch = pushed(&exposition, &key, 5_000).unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(
            labels(&batch, 0),
            pairs(&[("__name__", "a"), ("job", "nightly"), ("zone", "path")]),
            "sorted, the path's labels over the body's, empty labels absent"
        );
        assert_eq!(
            batch.get(0).samples[0].timestamp_ms,
            5_000,
            "time of receipt"
        );
        assert_eq!(batch.get(1).samples[0].timestamp_ms, 1_000, "its own time");
        assert_eq!(
            labels(&batch, 2),
            pairs(&[
                ("__name__", PUSH_TIME_METRIC),
                ("job", "nightly"),
                ("zone", "path")
            ])
        );
        assert_eq!(batch.get(2).samples[0].value, 5.0);
    }

    #[test]
    fn series_made_equal_by_the_grouping_key_are_refused() {
        let exposition = text::parse("a{job=\"x\"} 1\na{job=\"y\"} 2\n").unwrap();
        let key = grouping::parse("job/j").unwrap();
        let error = pushed(&exposition, &key, 0).unwrap_err();
        assert_eq!(error, PushError::Duplicate("a{job=\"j\"}".into()));
    }

    #[test]
    fn each_metric_of_an_event_is_a_series_owned_by_its_event() {
        let body = br#"[{"dimensions":{"site":"s","blank":""},"metrics":{"t":"1.5","h":2}},
                        {"metrics":{}},
                        {"timestamp":7,"metrics":{"t":"3"}}]"#;
        let parsed = events::parse(body).unwrap();
        let valid = parsed
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().ok().map(|e| (i as u32, e, 9)));
        let (batch, owners) = events(valid);
        assert_eq!(owners, [0, 0, 2]);
        assert_eq!(
            labels(&batch, 0),
            pairs(&[("__name__", "t"), ("site", "s")])
        );
        assert_eq!(batch.get(1).samples[0].value, 2.0);
        assert_eq!(batch.get(1).samples[0].timestamp_ms, 9);
        assert_eq!(batch.get(2).samples[0].timestamp_ms, 7);
        assert_eq!(labels(&batch, 2), pairs(&[("__name__", "t")]));
    }
}
