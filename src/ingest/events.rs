//! JSON events through the ingest pipeline, answered item by item: what `POST /events`,
//! a direct Lambda invocation and an SQS batch share.
//!
//! An item is what a front-end answers for: an event of a body, or a queue message with
//! all its events. An item is written whole or not at all: one that did not parse, or
//! whose names Timestream cannot store, is refused before anything is written; the
//! front-end chooses whether such a refusal stops the other items too. Records
//! Timestream rejects afterwards (another value at the same time, a point past the
//! retention) refuse their item; the other items are written.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{IngestError, Protocol};
use crate::ingest::Ingest;
use crate::push::batch;
use crate::push::events::{Event, Events};
use crate::timestream::backend::Credentials;

/// One event to write: the item that answers for it, and the time its samples take if
/// it has none (the time of receipt, or a queue message's sent time so that a redelivery
/// writes the same points).
#[derive(Debug, Clone, Copy)]
pub struct Item<'e> {
    pub owner: u32,
    pub event: &'e Event<'e>,
    pub default_ms: i64,
}

/// The events of a parsed body as items, each its own (owner = its index), with the
/// time of receipt for those without a timestamp; and the events that did not parse.
pub fn items<'e>(
    events: &'e Events<'e>,
    received_ms: i64,
) -> (Vec<Item<'e>>, BTreeMap<u32, String>) {
    let mut items = Vec::with_capacity(events.events.len());
    let mut invalid = BTreeMap::new();
    for (index, event) in events.events.iter().enumerate() {
        match event {
            Ok(event) => items.push(Item {
                owner: index as u32,
                event,
                default_ms: received_ms,
            }),
            Err(error) => {
                invalid.insert(error.index as u32, error.reason.clone());
            }
        }
    }
    (items, invalid)
}

/// What became of the items.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Samples written.
    pub written_samples: u64,
    /// Items refused before writing (invalid), with why.
    pub invalid: BTreeMap<u32, String>,
    /// Items with records Timestream rejected, with why; their other records may be
    /// written.
    pub rejected: BTreeMap<u32, String>,
    /// Whether anything was written at all: false when invalid items stopped the rest.
    pub attempted: bool,
}

impl Outcome {
    /// Whether `owner` was written whole.
    pub fn is_written(&self, owner: u32) -> bool {
        self.attempted && !self.invalid.contains_key(&owner) && !self.rejected.contains_key(&owner)
    }
}

/// Writes `items`. `invalid` holds the items already refused (a body that did not
/// parse); with `all_or_nothing`, any invalid item stops every other one.
pub async fn write(
    ingest: &Ingest,
    items: &[Item<'_>],
    mut invalid: BTreeMap<u32, String>,
    all_or_nothing: bool,
    protocol: Protocol,
    credentials: Option<&Credentials>,
) -> Result<Outcome, IngestError> {
    let pending = |invalid: &BTreeMap<u32, String>| {
        items
            .iter()
            .filter(|item| !invalid.contains_key(&item.owner))
            .map(|item| (item.owner, item.event, item.default_ms))
            .collect::<Vec<_>>()
    };
    // What Timestream could not store (names past its limits, reserved names) refuses
    // its item before anything is written.
    let (all, owners) = batch::events(pending(&invalid));
    for (series, reason) in ingest.check(&all) {
        invalid.entry(owners[series as usize]).or_insert_with(|| {
            format!(
                "{} {}",
                all.get(series as usize).display(),
                reason.describe()
            )
        });
    }
    let mut outcome = Outcome {
        attempted: invalid.is_empty() || !all_or_nothing,
        ..Outcome::default()
    };
    if !outcome.attempted {
        outcome.invalid = invalid;
        return Ok(outcome);
    }
    let (batch, owners) = batch::events(pending(&invalid));
    outcome.invalid = invalid;
    match ingest.ingest(&batch, protocol, credentials).await {
        Ok(written) => outcome.written_samples = written.stored.total(),
        Err(IngestError::Rejected {
            rejected, written, ..
        }) => {
            outcome.written_samples = written.total();
            for rejection in rejected {
                let reason = format!("{}: {}", rejection.series, rejection.reason);
                match rejection.source {
                    Some(source) => {
                        outcome
                            .rejected
                            .entry(owners[source as usize])
                            .or_insert(reason);
                    }
                    // A record the call no longer names: every item may have lost it.
                    None => {
                        for &owner in &owners {
                            outcome.rejected.entry(owner).or_insert(reason.clone());
                        }
                    }
                }
            }
        }
        Err(error) => return Err(error),
    }
    Ok(outcome)
}

/// The answer to a body of events (`POST /events`, a direct invocation).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Answer {
    /// Events written whole.
    pub written_events: usize,
    /// Samples written (each metric of an event is a sample).
    pub written_samples: u64,
    /// Events not written (or not whole), by index in the body, with why.
    pub refused: Vec<Refused>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Refused {
    pub index: u32,
    pub reason: String,
}

impl Answer {
    /// The answer for `events` events whose owners are their indexes.
    pub fn new(events: usize, outcome: Outcome) -> Answer {
        let written_events = (0..events as u32)
            .filter(|&i| outcome.is_written(i))
            .count();
        let mut refused: Vec<Refused> = outcome
            .invalid
            .into_iter()
            .chain(outcome.rejected)
            .map(|(index, reason)| Refused { index, reason })
            .collect();
        refused.sort_by_key(|r| r.index);
        Answer {
            written_events,
            written_samples: outcome.written_samples,
            refused,
        }
    }
}
