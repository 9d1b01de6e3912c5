//! Reads of offloaded memories: each read result whose record holds a pointer gets
//! its value back from the archive (one fetch per object, then the cache). Runs in
//! the reader's thread after its LMDB read transaction has ended.

use crate::engine::Shared;
use crate::error::{CoreError, Result};
use crate::model::Memory;

use super::Pointer;

/// Replaces the pointer of every offloaded memory in `out` by its value. A failure
/// names the memory: `Unavailable` when the store cannot be reached (or no archive
/// is configured), `DataLoss` when its object is missing or does not open.
pub(crate) fn hydrate(shared: &Shared, out: &mut [Option<Memory>], now_ms: u64) -> Result<()> {
    if !out.iter().flatten().any(|m| m.header.offloaded) {
        return Ok(());
    }
    let archive = shared.archive();
    for m in out.iter_mut().flatten().filter(|m| m.header.offloaded) {
        let named = |e: CoreError| {
            let message = format!("memory {}/{}: {}", m.namespace, m.key, e.message());
            match e {
                CoreError::DataLoss(_) => CoreError::DataLoss(message),
                CoreError::Unavailable(_) => CoreError::Unavailable(message),
                other => other,
            }
        };
        let Some(archive) = &archive else {
            return Err(named(CoreError::Unavailable(
                "its value is in the object archive, and this daemon has no archive \
                 configured (archive.endpoint)"
                    .into(),
            )));
        };
        let ptr = Pointer::decode(&m.value)?;
        let plain = archive.fetch(&ptr.object, now_ms).map_err(named)?;
        m.value = ptr.slice(&plain).map_err(named)?.to_vec();
        m.header.offloaded = false;
    }
    Ok(())
}
