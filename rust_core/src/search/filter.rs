//! Filters, and the per-document attributes they test.
//!
//! Each document keeps the sorted ids of its labels (tags and metadata entries,
//! interned per namespace by `Labels`). A request's filter is compiled once against the namespace
//! (`Filter::compile`): strings become ids, and a required label the namespace has
//! never seen means nothing can match, so the search returns before scanning. The
//! compiled filter is then tested inside the scans, before a document is scored,
//! so top-k is taken among matching documents only and a selective filter still
//! returns k hits when k exist.

pub use super::labels::{Label, Labels};
use crate::model::{Header, Tier};

/// What a search may restrict. Empty fields restrict nothing; time bounds are
/// milliseconds since the epoch, lower bound inclusive, upper bound exclusive,
/// 0 meaning unbounded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// Only these tiers (empty: all).
    pub tiers: Vec<Tier>,
    /// Memories carrying every one of these tags.
    pub tags_all: Vec<String>,
    /// Memories carrying at least one of these tags (empty: no constraint).
    pub tags_any: Vec<String>,
    /// Metadata entries that must be present with exactly this value.
    pub metadata: Vec<(String, String)>,
    /// Importance at least this.
    pub importance_min: f32,
    /// Importance at most this.
    pub importance_max: f32,
    /// Created at or after.
    pub created_after_ms: u64,
    /// Created before (0: unbounded).
    pub created_before_ms: u64,
    /// Last accessed at or after.
    pub accessed_after_ms: u64,
    /// Last accessed before (0: unbounded).
    pub accessed_before_ms: u64,
}

/// Attributes of one document, kept in step with `KeyMeta`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocMeta {
    /// Tier number (1..=4).
    pub tier: u8,
    /// In [0, 1].
    pub importance: f32,
    /// Creation time.
    pub created_ms: u64,
    /// Last read or write.
    pub last_access_ms: u64,
    /// Reads and writes.
    pub access_count: u64,
    /// `ln(1 + access_count)`, kept so scoring needs no logarithm per document.
    pub ln_accesses: f32,
    /// 0 = never.
    pub expires_at_ms: u64,
}

impl DocMeta {
    /// The attributes recorded in a record header.
    pub fn from_header(h: &Header) -> DocMeta {
        DocMeta {
            tier: h.tier.number(),
            importance: h.importance,
            created_ms: h.created_ms,
            last_access_ms: h.last_access_ms,
            access_count: h.access_count,
            ln_accesses: (h.access_count as f32).ln_1p(),
            expires_at_ms: h.expires_at_ms,
        }
    }

    /// Records new access statistics.
    pub fn set_access(&mut self, last_access_ms: u64, access_count: u64) {
        self.last_access_ms = last_access_ms;
        self.access_count = access_count;
        self.ln_accesses = (access_count as f32).ln_1p();
    }
}

/// Maxima of the attributes over every document a namespace has held since open.
/// Never lowered (a removal keeps them), so they are always upper bounds: scans use
/// them to stop once no remaining candidate can reach the top k.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Maxima {
    /// Highest importance.
    pub importance: f32,
    /// Highest `ln(1 + access_count)`.
    pub ln_accesses: f32,
    /// Latest last access.
    pub last_access_ms: u64,
    /// Latest creation.
    pub created_ms: u64,
}

impl Maxima {
    /// Raises the maxima to cover `m`.
    pub fn cover(&mut self, m: &DocMeta) {
        self.importance = self.importance.max(m.importance);
        self.ln_accesses = self.ln_accesses.max(m.ln_accesses);
        self.last_access_ms = self.last_access_ms.max(m.last_access_ms);
        self.created_ms = self.created_ms.max(m.created_ms);
    }
}

/// A filter resolved against one namespace's labels.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Nothing but expiry to check (the common case, tested first).
    open: bool,
    tiers: u8,
    all: Vec<u32>,
    any: Vec<u32>,
    f: Filter,
    now_ms: u64,
}

impl Filter {
    /// Resolves label names to ids; `None` when no document can match.
    pub fn compile(&self, labels: &Labels, now_ms: u64) -> Option<Compiled> {
        let tag = |t: &String| labels.id(&Label::Tag(t.as_str().into()));
        let meta = self
            .metadata
            .iter()
            .map(|(k, v)| labels.id(&Label::Meta(k.as_str().into(), v.as_str().into())));
        let mut all = self.tags_all.iter().map(tag).chain(meta).collect::<Option<Vec<u32>>>()?;
        all.sort_unstable();
        all.dedup();
        let any: Vec<u32> = self.tags_any.iter().filter_map(tag).collect();
        if !self.tags_any.is_empty() && any.is_empty() {
            return None;
        }
        let tiers = self.tiers.iter().fold(0u8, |m, t| m | 1 << t.number());
        let unbounded = Filter { importance_min: 0.0, importance_max: 1.0, ..Filter::default() };
        Some(Compiled {
            open: *self == unbounded,
            tiers: if tiers == 0 { 0xFF } else { tiers },
            all,
            any,
            f: self.clone(),
            now_ms,
        })
    }
}

impl Compiled {
    /// The slots a scan needs to visit when a label makes the filter selective
    /// (at most an eighth of `n_slots`), sorted and distinct; `None` to scan all.
    /// Candidates still go through `matches` (the lists may hold stale slots).
    pub fn driver(&self, labels: &Labels, n_slots: usize) -> Option<Vec<u32>> {
        let list = |id: &u32| labels.slots(*id);
        let lists: Vec<&[u32]> = match self.all.iter().min_by_key(|id| list(id).len()) {
            Some(id) => vec![list(id)],
            None if !self.any.is_empty() => self.any.iter().map(list).collect(),
            None => return None,
        };
        if lists.iter().map(|l| l.len()).sum::<usize>() * 8 > n_slots {
            return None;
        }
        let mut slots: Vec<u32> = lists.into_iter().flatten().copied().collect();
        slots.sort_unstable();
        slots.dedup();
        Some(slots)
    }

    /// True when the document passes the filter and has not expired.
    #[inline]
    pub fn matches(&self, m: &DocMeta, labels: &[u32]) -> bool {
        let f = &self.f;
        let before = |t: u64, bound: u64| bound == 0 || t < bound;
        let live = m.expires_at_ms == 0 || m.expires_at_ms > self.now_ms;
        if self.open {
            return live;
        }
        live && self.tiers & (1 << m.tier) != 0
            && m.importance >= f.importance_min
            && m.importance <= f.importance_max
            && m.created_ms >= f.created_after_ms
            && before(m.created_ms, f.created_before_ms)
            && m.last_access_ms >= f.accessed_after_ms
            && before(m.last_access_ms, f.accessed_before_ms)
            && self.all.iter().all(|id| labels.binary_search(id).is_ok())
            && (self.any.is_empty() || self.any.iter().any(|id| labels.binary_search(id).is_ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Filter {
        Filter { importance_max: 1.0, ..Filter::default() }
    }

    #[test]
    fn labels_are_refcounted_and_filters_resolve() {
        let mut labels = Labels::default();
        let tags = vec!["red".to_owned(), "blue".to_owned()];
        let meta = vec![("type".to_owned(), "fact".to_owned())];
        let doc = labels.acquire(&tags, &meta);
        labels.add_refs(&doc, 0);
        let m = DocMeta { tier: 2, importance: 0.5, ..DocMeta::default() };
        let f = Filter {
            tags_all: vec!["red".into()],
            metadata: meta.clone(),
            tiers: vec![Tier::ShortTerm],
            ..open()
        };
        assert!(f.compile(&labels, 0).unwrap().matches(&m, &doc));
        let wrong_tier = Filter { tiers: vec![Tier::Working], ..f.clone() };
        assert!(!wrong_tier.compile(&labels, 0).unwrap().matches(&m, &doc));
        let unknown = Filter { tags_any: vec!["green".into()], ..open() };
        assert!(unknown.compile(&labels, 0).is_none());
        labels.release(&doc, |_, _| false);
        assert!(f.compile(&labels, 0).is_none(), "labels forgotten with their last doc");
    }

    #[test]
    fn expired_documents_never_match() {
        let m = DocMeta { tier: 1, expires_at_ms: 100, ..DocMeta::default() };
        let f = open().compile(&Labels::default(), 100).unwrap();
        assert!(!f.matches(&m, &[]));
        let f = open().compile(&Labels::default(), 99).unwrap();
        assert!(f.matches(&m, &[]));
    }
}
