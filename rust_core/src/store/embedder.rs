//! The embedding model of a namespace, recorded after its dimension in the
//! `namespaces` database: `u32 LE dimension` then, for a namespace whose vectors the
//! server made, the model identity in UTF-8 (`local:...`, `openai:...`). Readers of
//! the dimension alone take the first four bytes, as before; a namespace without a
//! model (text only, or vectors its clients sent) keeps the 4-byte record.

use crate::error::{CoreError, Result};
use crate::store::Store;
use heed::{RoTxn, RwTxn};

/// A namespace's stored record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceRecord {
    /// Embedding dimension, 0 until the first vector.
    pub dim: u32,
    /// The server's embedding model, if it embedded anything there.
    pub model: Option<String>,
}

/// Decodes a `namespaces` value.
pub fn decode(value: &[u8]) -> Result<NamespaceRecord> {
    let Some((dim, model)) = value.split_first_chunk::<4>() else {
        return Err(CoreError::Storage(format!("dimension is {} bytes, not 4", value.len())));
    };
    let model = match std::str::from_utf8(model) {
        Ok("") => None,
        Ok(m) => Some(m.to_owned()),
        Err(_) => return Err(CoreError::Storage("namespace model is not UTF-8".into())),
    };
    Ok(NamespaceRecord { dim: u32::from_le_bytes(*dim), model })
}

/// Encodes a `namespaces` value.
pub fn encode(dim: u32, model: Option<&str>) -> Vec<u8> {
    let mut out = dim.to_le_bytes().to_vec();
    out.extend_from_slice(model.unwrap_or_default().as_bytes());
    out
}

impl Store {
    /// A namespace's record; `None` if the namespace does not exist.
    pub fn namespace_record(&self, txn: &RoTxn, ns: &str) -> Result<Option<NamespaceRecord>> {
        self.namespaces.get(txn, ns.as_bytes())?.map(decode).transpose()
    }

    /// Records that the server embeds namespace `ns` with `model` of `dim`.
    pub fn put_namespace_model(
        &self,
        txn: &mut RwTxn,
        ns: &str,
        dim: u32,
        model: &str,
    ) -> Result<()> {
        Ok(self.namespaces.put(txn, ns.as_bytes(), &encode(dim, Some(model)))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_old_ones_read_as_no_model() {
        let r = decode(&encode(384, Some("local:e5"))).unwrap();
        assert_eq!(r, NamespaceRecord { dim: 384, model: Some("local:e5".into()) });
        assert_eq!(decode(&7u32.to_le_bytes()).unwrap(), NamespaceRecord { dim: 7, model: None });
        assert!(decode(&[1, 2]).is_err());
        assert!(decode(&[1, 0, 0, 0, 0xff]).is_err());
    }
}
