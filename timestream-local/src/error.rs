//! Errors as Timestream names them on the wire: each maps to an exception type and an
//! HTTP status in one place, [`Error::wire`].

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnknownOperation(String),
    /// Storage failed: nothing of the request was applied.
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
    #[error("the data directory holds a log this version cannot read: {0}")]
    CorruptLog(String),
}

impl Error {
    /// The exception's short name and the HTTP status Timestream answers it with.
    pub fn wire(&self) -> (&'static str, u16) {
        match self {
            Error::Validation(_) => ("ValidationException", 400),
            Error::NotFound(_) => ("ResourceNotFoundException", 400),
            Error::Conflict(_) => ("ConflictException", 400),
            Error::UnknownOperation(_) => ("UnknownOperationException", 400),
            Error::Storage(_) | Error::CorruptLog(_) => ("InternalServerException", 500),
        }
    }
}
