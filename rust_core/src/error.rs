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
    /// What the call would create exists already (a Transfer's key in its target);
    /// nothing was changed.
    AlreadyExists(String),
    /// The LMDB map is full or a limit was hit; nothing was changed.
    Capacity(String),
    /// The engine is closed, or is used from a forked child.
    Closed(String),
    /// LMDB or the filesystem failed; the batch was not committed.
    Storage(String),
    /// The data directory is locked by another engine (another process, or another
    /// `Engine` of this one): two engines on one store would diverge in memory.
    InUse(String),
    /// A service memd depends on (the embedding endpoint) failed or is known to be
    /// down; nothing was changed, and the same call may succeed later.
    Unavailable(String),
    /// Stored data memd needs cannot be read back: an archive object is missing,
    /// corrupted, or sealed with a key memd is not given. Only the memories that
    /// need it are affected.
    DataLoss(String),
    /// An invariant broke: a bug in memd.
    Internal(String),
}

impl CoreError {
    /// Name of the matching `memd.errors` class.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "InvalidArgument",
            Self::NotFound(_) => "NotFound",
            Self::AlreadyExists(_) => "AlreadyExists",
            Self::Capacity(_) => "CapacityExceeded",
            Self::Closed(_) => "EngineClosed",
            Self::Storage(_) => "StorageError",
            Self::InUse(_) => "DataDirInUse",
            Self::Unavailable(_) => "Unavailable",
            Self::DataLoss(_) => "DataLoss",
            Self::Internal(_) => "InternalError",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidArgument(m)
            | Self::NotFound(m)
            | Self::AlreadyExists(m)
            | Self::Capacity(m)
            | Self::Closed(m)
            | Self::Storage(m)
            | Self::InUse(m)
            | Self::Unavailable(m)
            | Self::DataLoss(m)
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

/// The message of a write refused because the filesystem is full.
pub const DISK_FULL: &str =
    "the disk is full: nothing was written; free space on the data directory's filesystem";

/// True for the errno values of a full filesystem or an exhausted quota.
pub fn is_disk_full(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

impl From<heed::Error> for CoreError {
    fn from(err: heed::Error) -> Self {
        match err {
            heed::Error::Mdb(heed::MdbError::MapFull) => Self::Capacity(
                "the store is full (LMDB map size reached); raise map_size_bytes".into(),
            ),
            // heed turns LMDB's errno results into `Io` (`MdbError::Other` too).
            heed::Error::Io(io) => io.into(),
            other => Self::Storage(format!("LMDB: {other}")),
        }
    }
}

impl From<std::io::Error> for CoreError {
    fn from(err: std::io::Error) -> Self {
        if is_disk_full(&err) {
            return Self::Capacity(DISK_FULL.into());
        }
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
    fn full_disk_is_capacity() {
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let io = std::io::Error::from_raw_os_error(errno);
            assert_eq!(CoreError::from(heed::Error::Io(io)).kind(), "CapacityExceeded");
            let other = heed::Error::from(heed::MdbError::Other(errno));
            assert_eq!(CoreError::from(other).message(), DISK_FULL);
        }
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert_eq!(CoreError::from(eio).kind(), "StorageError");
    }

    #[test]
    fn display_names_kind() {
        assert_eq!(CoreError::invalid("x").to_string(), "InvalidArgument: x");
    }
}
