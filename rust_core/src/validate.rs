//! Input validation. Everything is checked before a batch reaches the writer, so a
//! rejected batch changes nothing.

use crate::config::Limits;
use crate::error::{CoreError, Result};
use crate::model::{History, NewMemory, RawHistory, RawMemory, Tier};

/// How far ahead of the server's clock an imported memory's times may be: the clocks
/// of the host that exported it and of this one differ a little, but a time further
/// ahead is a bug (seconds taken for milliseconds, a wrong zone) that would make the
/// memory look fresh for as long.
pub const MAX_CLOCK_SKEW_MS: u64 = 300_000;

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

/// Validates an imported memory's past (`NewMemory.history`) against the server's
/// clock `now_ms`, resolving its defaults: `updated_ms` 0 is `created_ms`,
/// `last_access_ms` 0 is `updated_ms`, `version` 0 is 1, `expires_at_ms` 0 is
/// "from the TTL". `created_ms` is required; no time may be more than
/// `MAX_CLOCK_SKEW_MS` ahead of `now_ms`, nor (the last two) before `created_ms`.
pub fn history(raw: &RawHistory, now_ms: u64) -> Result<History> {
    let field = |name: &str, v: i128| int63(&format!("history.{name}"), v);
    let created_ms = field("created_ms", raw.created_ms)?;
    if created_ms == 0 {
        return Err(CoreError::invalid("history.created_ms is required (ms since the epoch)"));
    }
    let updated_ms = match field("updated_ms", raw.updated_ms)? {
        0 => created_ms,
        t => t,
    };
    let last_access_ms = match field("last_access_ms", raw.last_access_ms)? {
        0 => updated_ms,
        t => t,
    };
    let latest = now_ms.saturating_add(MAX_CLOCK_SKEW_MS);
    let times = [
        ("created_ms", created_ms),
        ("updated_ms", updated_ms),
        ("last_access_ms", last_access_ms),
    ];
    for (name, t) in times {
        if t > latest {
            return Err(CoreError::invalid(format!(
                "history.{name} {t} is in the future: more than {MAX_CLOCK_SKEW_MS} ms after \
                 the server's clock ({now_ms})"
            )));
        }
        if t < created_ms {
            return Err(CoreError::invalid(format!(
                "history.{name} {t} is before history.created_ms {created_ms}"
            )));
        }
    }
    Ok(History {
        created_ms,
        updated_ms,
        last_access_ms,
        access_count: field("access_count", raw.access_count)?,
        version: field("version", raw.version)?.max(1),
        expires_at_ms: Some(field("expires_at_ms", raw.expires_at_ms)?).filter(|&t| t != 0),
    })
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

/// Validates one raw item into a `NewMemory`; `now_ms` is the server's clock, which
/// an imported memory's history must not be ahead of.
pub fn item(raw: RawMemory, limits: &Limits, now_ms: u64) -> Result<NewMemory> {
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
    // The context is searched and embedded like text, so it has text's limit.
    if raw.context.len() > limits.max_text_bytes {
        return Err(CoreError::invalid(format!(
            "context is {} bytes; the limit is {}",
            raw.context.len(),
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
    let history = raw.history.as_ref().map(|h| history(h, now_ms)).transpose()?;
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
        context: raw.context,
        importance,
        priority,
        ttl_ms,
        tier,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn raw() -> RawMemory {
        RawMemory { text: "hello".into(), ..RawMemory::default() }
    }

    #[test]
    fn accepts_plain_item() {
        let m = item(raw(), &Limits::default(), NOW).unwrap();
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
            RawMemory { context: "x".repeat(l.max_text_bytes + 1), ..raw() },
            RawMemory { text: String::new(), tags: vec!["t".into()], ..raw() },
        ];
        for b in bad {
            assert_eq!(item(b.clone(), &l, NOW).unwrap_err().kind(), "InvalidArgument", "{b:?}");
        }
        let big = RawMemory { value: vec![0; l.max_value_bytes + 1], ..raw() };
        assert_eq!(item(big, &l, NOW).unwrap_err().kind(), "InvalidArgument");
    }

    #[test]
    fn any_of_text_value_or_embedding_is_enough() {
        let l = Limits::default();
        let value = RawMemory { value: vec![1], ..RawMemory::default() };
        let embedding =
            RawMemory { embedding: Some(1f32.to_le_bytes().to_vec()), ..RawMemory::default() };
        for ok in [raw(), value, embedding] {
            assert!(item(ok, &l, NOW).is_ok());
        }
        let err = item(RawMemory::default(), &l, NOW).unwrap_err();
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

    fn past(created_ms: i128) -> RawHistory {
        RawHistory { created_ms, ..RawHistory::default() }
    }

    #[test]
    fn history_defaults_follow_created_ms() {
        let day = 86_400_000;
        let h = history(&past(i128::from(NOW - 30 * day)), NOW).unwrap();
        assert_eq!(
            (h.created_ms, h.updated_ms, h.last_access_ms),
            (NOW - 30 * day, NOW - 30 * day, NOW - 30 * day)
        );
        assert_eq!((h.access_count, h.version, h.expires_at_ms), (0, 1, None));
        let given = RawHistory {
            updated_ms: i128::from(NOW - day),
            last_access_ms: i128::from(NOW - 1),
            access_count: 7,
            version: 3,
            expires_at_ms: i128::from(NOW + day),
            ..past(i128::from(NOW - 30 * day))
        };
        let h = history(&given, NOW).unwrap();
        assert_eq!((h.updated_ms, h.last_access_ms), (NOW - day, NOW - 1));
        assert_eq!((h.access_count, h.version, h.expires_at_ms), (7, 3, Some(NOW + day)));
    }

    #[test]
    fn history_may_be_ahead_by_the_skew_allowance_only() {
        let skew = i128::from(MAX_CLOCK_SKEW_MS);
        let edge = past(i128::from(NOW) + skew);
        assert_eq!(history(&edge, NOW).unwrap().created_ms, NOW + MAX_CLOCK_SKEW_MS);
        let err = history(&past(i128::from(NOW) + skew + 1), NOW).unwrap_err();
        assert!(
            err.message().starts_with("history.created_ms 1800000300001 is in the future"),
            "{err}"
        );
        let late = RawHistory { last_access_ms: i128::from(NOW) + skew + 1, ..past(1) };
        assert!(history(&late, NOW).unwrap_err().message().contains("last_access_ms"));
    }

    #[test]
    fn history_rejects_missing_negative_and_inverted_times() {
        let bad = [
            past(0),
            past(-1),
            past(1 << 63),
            RawHistory { updated_ms: 5, ..past(10) },
            RawHistory { last_access_ms: 5, ..past(10) },
            RawHistory { access_count: -1, ..past(10) },
            RawHistory { version: 1 << 63, ..past(10) },
            RawHistory { expires_at_ms: -1, ..past(10) },
        ];
        for b in bad {
            assert_eq!(history(&b, NOW).unwrap_err().kind(), "InvalidArgument", "{b:?}");
        }
        // An item carries its history's error, so the whole item is rejected.
        let item_with = RawMemory { history: Some(past(0)), ..raw() };
        assert_eq!(item(item_with, &Limits::default(), NOW).unwrap_err().kind(), "InvalidArgument");
    }

    #[test]
    fn namespace_rules() {
        let l = Limits::default();
        assert!(namespace("", &l).is_err());
        assert!(namespace(&"n".repeat(129), &l).is_err());
        assert!(namespace("agent:planner/user:42", &l).is_ok());
    }
}
