//! The one thing the writer needs from Timestream, as a trait: the SDK client
//! implements it for real, and tests implement it to inject faults.

use futures::future::BoxFuture;
use thiserror::Error;

use super::batch::WriteCall;

/// Static AWS credentials a client passed with its request (Basic auth: user = access
/// key id, password = secret access key), as the Go connector accepts them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, not even in a debug log.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Writes one call's records.
pub trait Backend: Send + Sync + 'static {
    fn write_records<'a>(
        &'a self,
        call: &'a WriteCall<'a>,
        credentials: Option<&'a Credentials>,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
}

/// A record Timestream refused, by its index in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub index: usize,
    pub reason: String,
    pub existing_version: Option<i64>,
}

/// How a WriteRecords call failed, in the classes that decide what happens next.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum BackendError {
    /// Timestream asks us to slow down; worth retrying.
    #[error("Timestream throttled the write: {0}")]
    Throttled(String),
    /// A 5xx, a timeout or a network failure; worth retrying.
    #[error("Timestream is unavailable: {0}")]
    Unavailable(String),
    /// Timestream refused some records for good and wrote all the others.
    #[error("Timestream rejected {} record(s)", .0.len())]
    Rejected(Vec<RejectedRecord>),
    #[error("Timestream database or table not found: {0}")]
    NotFound(String),
    #[error("Timestream denied access: {0}")]
    AccessDenied(String),
    /// Any other refusal of the request as a whole.
    #[error("Timestream refused the write: {0}")]
    Invalid(String),
}

impl BackendError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            BackendError::Throttled(_) | BackendError::Unavailable(_)
        )
    }

    /// A Timestream error by its code (both APIs share them) and the answer's status.
    pub fn from_code(code: &str, message: String, status: u16) -> BackendError {
        match code {
            "ThrottlingException" => BackendError::Throttled(message),
            "InternalServerException" | "InvalidEndpointException" => {
                BackendError::Unavailable(message)
            }
            "ResourceNotFoundException" => BackendError::NotFound(message),
            "AccessDeniedException" => BackendError::AccessDenied(message),
            "ValidationException" | "QueryExecutionException" | "ConflictException" => {
                BackendError::Invalid(message)
            }
            _ => {
                let text = format!("{code}: {message}");
                match (status, code) {
                    (429, _) => BackendError::Throttled(text),
                    (500.., _) => BackendError::Unavailable(text),
                    (
                        _,
                        "UnrecognizedClientException"
                        | "InvalidSignatureException"
                        | "ExpiredTokenException"
                        | "MissingAuthenticationToken"
                        | "IncompleteSignature",
                    ) => BackendError::AccessDenied(text),
                    _ => BackendError::Invalid(text),
                }
            }
        }
    }

    /// Bounded label value for telemetry.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::Throttled(_) => "throttled",
            BackendError::Unavailable(_) => "unavailable",
            BackendError::Rejected(_) => "rejected",
            BackendError::NotFound(_) => "not_found",
            BackendError::AccessDenied(_) => "access_denied",
            BackendError::Invalid(_) => "invalid",
        }
    }
}

/// Why Timestream refused a record, as far as the connector acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// A record of the same dimensions, time and measure name is stored with another
    /// value.
    ConflictingValue,
    TimeOutOfRange,
    Other,
}

impl RejectionKind {
    /// Bounded label value for telemetry.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionKind::ConflictingValue => "conflicting_value",
            RejectionKind::TimeOutOfRange => "time_out_of_range",
            RejectionKind::Other => "other",
        }
    }
}

impl RejectedRecord {
    /// Why the record was refused: a conflict where Timestream names the stored
    /// record's version; otherwise from Timestream's reason, free-form text and the
    /// only thing it says.
    pub fn kind(&self) -> RejectionKind {
        if self.existing_version.is_some() {
            return RejectionKind::ConflictingValue;
        }
        let reason = self.reason.to_ascii_lowercase();
        if reason.contains("version") || reason.contains("duplicate") {
            RejectionKind::ConflictingValue
        } else if reason.contains("retention")
            || reason.contains("future")
            || reason.contains("time")
        {
            RejectionKind::TimeOutOfRange
        } else {
            RejectionKind::Other
        }
    }
}

/// One page of a query's result: rows of nullable text cells, in the selected order.
///
/// The cells' text is kept in one buffer, not a `String` each: a page is up to a
/// thousand rows of a handful of cells, read once and dropped, and allocating per cell
/// was most of the read path's CPU time.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Page {
    text: String,
    /// Per cell: its range in `text`, or `None` for NULL.
    cells: Vec<Option<(u32, u32)>>,
    /// Per row: where its cells end in `cells`.
    row_ends: Vec<u32>,
    pub next_token: Option<String>,
    /// Timestream's running total for the query (QueryStatus.CumulativeBytesScanned).
    pub bytes_scanned: u64,
}

impl Page {
    /// Appends a cell to the row being built.
    pub fn push_cell(&mut self, cell: Option<&str>) {
        self.cells.push(cell.map(|text| {
            let start = self.text.len() as u32;
            self.text.push_str(text);
            (start, self.text.len() as u32)
        }));
    }

    /// Ends the row being built.
    pub fn end_row(&mut self) {
        self.row_ends.push(self.cells.len() as u32);
    }

    /// A page of these rows (tests, and backends whose rows come as strings).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = Vec<Option<&'a str>>>) -> Page {
        let mut page = Page::default();
        for row in rows {
            row.into_iter().for_each(|cell| page.push_cell(cell));
            page.end_row();
        }
        page
    }

    pub fn row_count(&self) -> usize {
        self.row_ends.len()
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        let starts = std::iter::once(0).chain(self.row_ends.iter().copied());
        starts
            .zip(self.row_ends.iter())
            .map(move |(start, &end)| Row {
                text: &self.text,
                cells: &self.cells[start as usize..end as usize],
            })
    }
}

/// One row of a [`Page`], borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'p> {
    text: &'p str,
    cells: &'p [Option<(u32, u32)>],
}

impl<'p> Row<'p> {
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Cell `i`: `None` past the end or for NULL.
    pub fn get(&self, i: usize) -> Option<&'p str> {
        let (start, end) = (*self.cells.get(i)?)?;
        Some(&self.text[start as usize..end as usize])
    }

    pub fn cells(&self) -> impl Iterator<Item = Option<&'p str>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Runs queries, a page at a time: the SDK query client for real, scripts in tests.
pub trait QueryBackend: Send + Sync + 'static {
    fn query<'a>(
        &'a self,
        sql: &'a str,
        next_token: Option<&'a str>,
        credentials: Option<&'a Credentials>,
    ) -> BoxFuture<'a, Result<Page, BackendError>>;
}
