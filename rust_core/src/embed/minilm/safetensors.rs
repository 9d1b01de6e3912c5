//! The float32 tensors of a `.safetensors` file (the format Hugging Face models
//! ship their weights in): a u64 header length, a JSON header of
//! `{name: {dtype, shape, data_offsets}}`, then the raw little-endian data. Reading
//! it is twenty lines; the `safetensors` crate would add nothing but a dependency.

use crate::error::{CoreError, Result};
use std::collections::HashMap;
use std::path::Path;

/// A file's float32 tensors, by name.
pub struct Tensors {
    raw: Vec<u8>,
    base: usize,
    /// Name → (shape, start, end) of each float32 tensor.
    pub index: HashMap<String, (Vec<usize>, usize, usize)>,
}

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

impl Tensors {
    /// Reads the whole file.
    pub fn read(path: &Path) -> Result<Tensors> {
        let bad = |why: &str| CoreError::invalid(format!("{}: {why}", path.display()));
        let raw = std::fs::read(path).map_err(|e| bad(&e.to_string()))?;
        let n = raw.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        let base = 8 + usize::try_from(n.ok_or_else(|| bad("not a safetensors file"))?)
            .map_err(|_| bad("bad header length"))?;
        let header = raw.get(8..base).ok_or_else(|| bad("truncated header"))?;
        let mut entries: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
        entries.remove("__metadata__");
        let mut index = HashMap::new();
        for (name, value) in entries {
            let e: Entry = serde_json::from_value(value).map_err(|e| bad(&e.to_string()))?;
            if e.dtype == "F32" {
                index.insert(name, (e.shape, e.data_offsets.0, e.data_offsets.1));
            }
        }
        Ok(Tensors { raw, base, index })
    }

    /// The tensor `name`, which must have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (have, start, end) = self.index.get(name).ok_or_else(|| {
            CoreError::invalid(format!("the model's weights lack the tensor {name}"))
        })?;
        let bytes = self.raw.get(self.base + start..self.base + end);
        match bytes {
            Some(b) if have == shape && b.len() == 4 * shape.iter().product::<usize>() => Ok(b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()),
            _ => Err(CoreError::invalid(format!(
                "the model's tensor {name} is {have:?}, expected {shape:?}"
            ))),
        }
    }
}
