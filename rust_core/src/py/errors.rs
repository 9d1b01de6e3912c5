//! The one mapping from `CoreError` to the exceptions of `memd/errors.py`.

use crate::error::CoreError;
use pyo3::PyErr;

pyo3::import_exception!(memd.errors, InvalidArgument);
pyo3::import_exception!(memd.errors, NotFound);
pyo3::import_exception!(memd.errors, AlreadyExists);
pyo3::import_exception!(memd.errors, CapacityExceeded);
pyo3::import_exception!(memd.errors, EngineClosed);
pyo3::import_exception!(memd.errors, StorageError);
pyo3::import_exception!(memd.errors, DataDirInUse);
pyo3::import_exception!(memd.errors, Unavailable);
pyo3::import_exception!(memd.errors, DataLoss);
pyo3::import_exception!(memd.errors, InternalError);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let msg = err.message().to_owned();
        match err {
            CoreError::InvalidArgument(_) => InvalidArgument::new_err(msg),
            CoreError::NotFound(_) => NotFound::new_err(msg),
            CoreError::AlreadyExists(_) => AlreadyExists::new_err(msg),
            CoreError::Capacity(_) => CapacityExceeded::new_err(msg),
            CoreError::Closed(_) => EngineClosed::new_err(msg),
            CoreError::Storage(_) => StorageError::new_err(msg),
            CoreError::InUse(_) => DataDirInUse::new_err(msg),
            CoreError::Unavailable(_) => Unavailable::new_err(msg),
            CoreError::DataLoss(_) => DataLoss::new_err(msg),
            CoreError::Internal(_) => InternalError::new_err(msg),
        }
    }
}
