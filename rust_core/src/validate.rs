//! Input validation. Everything is checked before a batch reaches the writer, so a
//! rejected batch changes nothing.

use crate::config::Limits;
use crate::error::{CoreError, Result};
use crate::model::{NewMemory, RawMemory, Tier};

/// Checks a namespace name: non-empty, bounded, no NUL (NUL separates it from the key).
pub fn namespace(ns: &str, limits: &Limits) -> Result<()> {
    if ns.is_empty() {
        return Err(CoreError::invalid("namespace must not be empty"));
    }
    if ns.len() > limits.max_namespace_bytes {
        return Err(CoreError::invalid(format!(
            "namespace is {} bytes; the limit is {}",
            ns.len(),
            limits.max_namespace_bytes
        )));
    }
    if ns.contains('\0') {
        return Err(CoreError::invalid("namespace must not contain NUL"));
    }
    Ok(())
}

/// Checks a key given by a client (`allow_empty` for puts, where empty means "make one").
pub fn key(key: &str, limits: &Limits, allow_empty: bool) -> Result<()> {
    if key.is_empty() && !allow_empty {
        return Err(CoreError::invalid("key must not be empty"));
    }
    if key.len() > limits.max_key_bytes {
        return Err(CoreError::invalid(format!(
            "key is {} bytes; the limit is {}",
            key.len(),
            limits.max_key_bytes
        )));
    }
    if key.contains('\0') {
        return Err(CoreError::invalid("key must not contain NUL"));
    }
    Ok(())
}

/// A tier number where 0 means "none given" (a put's default tier, a list of all
/// tiers); 1..=4 are the tiers.
pub fn optional_tier(n: i128) -> Result<Option<Tier>> {
    match n {
        0 => Ok(None),
        n => i64::try_from(n)
            .ok()
            .and_then(Tier::from_number)
            .map(Some)
            .ok_or_else(|| CoreError::invalid(format!("unknown tier {n} (valid: 0..4)"))),
    }
}

/// A time (ms since the epoch), a duration or a count from a caller: it must be in
/// 0..=2^63-1, as `ttl_ms` is (the proto's uint64 fields hold more, but no real
/// time does, and every client language's signed 64-bit integers hold this
/// range). Anything else is `InvalidArgument` naming the field.
pub fn int63(name: &str, v: i128) -> Result<u64> {
    u64::try_from(v)
        .ok()
        .filter(|&v| i64::try_from(v).is_ok())
        .ok_or_else(|| CoreError::invalid(format!("{name} must be in 0..=2^63-1, got {v}")))
}

/// Checks the size of a batch.
pub fn batch_len(len: usize, limits: &Limits) -> Result<()> {
    if len > limits.max_batch {
        return Err(CoreError::invalid(format!(
            "batch has {len} items; the limit is {}",
            limits.max_batch
        )));
    }
    Ok(())
}

/// Decodes a packed little-endian float32 embedding and rejects NaN/inf.
pub fn embedding(bytes: &[u8], limits: &Limits) -> Result<Vec<f32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return Err(CoreError::invalid(format!(
            "embedding is {} bytes; it must be a non-empty multiple of 4 (packed float32)",
            bytes.len()
        )));
    }
    let dim = bytes.len() / 4;
    if dim > limits.max_embedding_dim {
        return Err(CoreError::invalid(format!(
            "embedding has {dim} dimensions; the limit is {}",
            limits.max_embedding_dim
        )));
    }
    let vector: Vec<f32> =
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if let Some(i) = vector.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::invalid(format!("embedding[{i}] is not finite")));
    }
    Ok(vector)
}

fn labels(raw: &RawMemory, limits: &Limits) -> Result<Vec<(String, String)>> {
    if raw.tags.len() > limits.max_tags {
        return Err(CoreError::invalid(format!("more than {} tags", limits.max_tags)));
    }
    if raw.metadata.len() > limits.max_metadata {
        return Err(CoreError::invalid(format!(
            "more than {} metadata entries",
            limits.max_metadata
        )));
    }
    let too_long = |s: &String| s.len() > limits.max_label_bytes;
    if raw.tags.iter().any(too_long) || raw.metadata.iter().any(|(k, v)| too_long(k) || too_long(v))
    {
        return Err(CoreError::invalid(format!(
            "tags and metadata entries are limited to {} bytes",
            limits.max_label_bytes
        )));
    }
    let mut metadata = raw.metadata.clone();
    metadata.sort();
    Ok(metadata)
}

/// Validates one raw item into a `NewMemory`.
pub fn item(raw: RawMemory, limits: &Limits) -> Result<NewMemory> {
    key(&raw.key, limits, true)?;
    if raw.value.len() > limits.max_value_bytes {
        return Err(CoreError::invalid(format!(
            "value is {} bytes; the limit is {}",
            raw.value.len(),
            limits.max_value_bytes
        )));
    }
    if raw.text.len() > limits.max_text_bytes {
        return Err(CoreError::invalid(format!(
            "text is {} bytes; the limit is {}",
            raw.text.len(),
            limits.max_text_bytes
        )));
    }
    let importance = match raw.importance {
        None => None,
        Some(i) if (0.0..=1.0).contains(&i) => Some(i as f32),
        Some(i) => return Err(CoreError::invalid(format!("importance {i} is not in [0, 1]"))),
    };
    let ttl_ms = match raw.ttl_ms {
        None => None,
        // 2^63 - 1 as the proto documents: far beyond any real TTL, and safe to
        // add to a timestamp.
        Some(t) => Some(
            u64::try_from(t)
                .ok()
                .filter(|&t| i64::try_from(t).is_ok())
                .ok_or_else(|| CoreError::invalid(format!("ttl_ms {t} is not in 0..=2^63-1")))?,
        ),
    };
    let priority = i32::try_from(raw.priority).map_err(|_| {
        CoreError::invalid(format!("priority {} does not fit a 32-bit integer", raw.priority))
    })?;
    let tier = optional_tier(raw.tier)?;
    let embedding = raw.embedding.as_deref().map(|b| embedding(b, limits)).transpose()?;
    let metadata = labels(&raw, limits)?;
    // Checked last, so a field that is wrong is named first. Nothing to recall it
    // by or to return: almost surely a client bug (an unset field), and stored it
    // would only take a slot from real memories.
    if raw.text.is_empty() && raw.value.is_empty() && embedding.is_none() {
        return Err(CoreError::invalid("a memory needs text, a value or an embedding"));
    }
    Ok(NewMemory {
        key: raw.key,
        text: raw.text,
        value: raw.value,
        embedding,
        tags: raw.tags,
        metadata,
        importance,
        priority,
        ttl_ms,
        tier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawMemory {
        RawMemory { text: "hello".into(), ..RawMemory::default() }
    }

    #[test]
    fn accepts_plain_item() {
        let m = item(raw(), &Limits::default()).unwrap();
        assert_eq!(m.tier, None);
        assert_eq!(m.importance, None);
    }

    #[test]
    fn rejects_bad_fields() {
        let l = Limits::default();
        let bad = [
            RawMemory { importance: Some(1.5), ..raw() },
            RawMemory { importance: Some(f64::NAN), ..raw() },
            RawMemory { ttl_ms: Some(-1), ..raw() },
            RawMemory { ttl_ms: Some(1 << 63), ..raw() },
            RawMemory { priority: 1 << 40, ..raw() },
            RawMemory { tier: 9, ..raw() },
            RawMemory { key: "a\0b".into(), ..raw() },
            RawMemory { key: "k".repeat(257), ..raw() },
            RawMemory { embedding: Some(vec![0, 0, 0]), ..raw() },
            RawMemory { embedding: Some(f32::NAN.to_le_bytes().to_vec()), ..raw() },
            RawMemory { text: "x".repeat(l.max_text_bytes + 1), ..raw() },
            RawMemory { text: String::new(), tags: vec!["t".into()], ..raw() },
        ];
        for b in bad {
            assert_eq!(item(b.clone(), &l).unwrap_err().kind(), "InvalidArgument", "{b:?}");
        }
        let big = RawMemory { value: vec![0; l.max_value_bytes + 1], ..raw() };
        assert_eq!(item(big, &l).unwrap_err().kind(), "InvalidArgument");
    }

    #[test]
    fn any_of_text_value_or_embedding_is_enough() {
        let l = Limits::default();
        let value = RawMemory { value: vec![1], ..RawMemory::default() };
        let embedding =
            RawMemory { embedding: Some(1f32.to_le_bytes().to_vec()), ..RawMemory::default() };
        for ok in [raw(), value, embedding] {
            assert!(item(ok, &l).is_ok());
        }
        let err = item(RawMemory::default(), &l).unwrap_err();
        assert_eq!(err.message(), "a memory needs text, a value or an embedding");
    }

    #[test]
    fn int63_names_the_field_out_of_range() {
        assert_eq!(int63("t", i128::from(i64::MAX)).unwrap(), i64::MAX as u64);
        for bad in [-1, 1 << 63, i128::from(u64::MAX), i128::from(u64::MAX) + 1] {
            let err = int63("created_after_ms", bad).unwrap_err();
            assert!(err.message().starts_with("created_after_ms must be in 0..=2^63-1"), "{err}");
        }
    }

    #[test]
    fn namespace_rules() {
        let l = Limits::default();
        assert!(namespace("", &l).is_err());
        assert!(namespace(&"n".repeat(129), &l).is_err());
        assert!(namespace("agent:planner/user:42", &l).is_ok());
    }
}
