//! The one error type of the core. `py/errors.rs` maps each variant to exactly one
//! class of `memd.errors`, and the server maps each class to one gRPC status.

use std::fmt;

/// Every failure the engine reports. Messages are for humans and safe to show clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Bad input; nothing was changed.
    InvalidArgument(String),
    /// A named object (namespace) does not exist.
    NotFound(String),
    /// The LMDB map is full or a limit was hit; nothing was changed.
    Capacity(String),
    /// The engine is closed, or is used from a forked child.
    Closed(String),
    /// LMDB or the filesystem failed; the batch was not committed.
    Storage(String),
    /// An invariant broke: a bug in memd.
    Internal(String),
}

impl CoreError {
    /// Name of the matching `memd.errors` class.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "InvalidArgument",
            Self::NotFound(_) => "NotFound",
            Self::Capacity(_) => "CapacityExceeded",
            Self::Closed(_) => "EngineClosed",
            Self::Storage(_) => "StorageError",
            Self::Internal(_) => "InternalError",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidArgument(m)
            | Self::NotFound(m)
            | Self::Capacity(m)
            | Self::Closed(m)
            | Self::Storage(m)
            | Self::Internal(m) => m,
        }
    }

    /// Shorthand for an `InvalidArgument` with a formatted message.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for CoreError {}

impl From<heed::Error> for CoreError {
    fn from(err: heed::Error) -> Self {
        match err {
            heed::Error::Mdb(heed::MdbError::MapFull) => Self::Capacity(
                "the store is full (LMDB map size reached); raise map_size_bytes".into(),
            ),
            other => Self::Storage(format!("LMDB: {other}")),
        }
    }
}

impl From<std::io::Error> for CoreError {
    fn from(err: std::io::Error) -> Self {
        Self::Storage(format!("I/O: {err}"))
    }
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, CoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_full_is_capacity() {
        let err = CoreError::from(heed::Error::Mdb(heed::MdbError::MapFull));
        assert_eq!(err.kind(), "CapacityExceeded");
    }

    #[test]
    fn display_names_kind() {
        assert_eq!(CoreError::invalid("x").to_string(), "InvalidArgument: x");
    }
}
