//! Rebuilding the in-memory view from LMDB (`State::load`): at open, and after a
//! failed commit.

use super::{HashMap, KeyMeta, State};
use crate::config::QuantRules;
use crate::error::Result;
use crate::lifecycle::dedup::TextHashes;
use crate::search::quant::Quantization;
use crate::search::{Analyzer, DocInput, DocMeta, SearchIndex};
use crate::store::{codec, keys, Store};
use std::sync::Arc;

/// Records handed to the search indexer at a time while loading.
const LOAD_BATCH: usize = 1024;

/// Adds a stored record to a search index. A record whose body does not decode is
/// still indexed (without content), so the index and the key map hold the same keys.
/// `vector` is the record's stored embedding (`Store::embedding_bytes`).
fn index_record(index: &mut SearchIndex, key: &Arc<str>, record: &[u8], vector: Option<&[u8]>) {
    let Ok(header) = codec::decode_header(record) else { return };
    let body = codec::decode_searchable(record).unwrap_or(codec::Searchable {
        text: "",
        tags: Vec::new(),
        metadata: Vec::new(),
        context: "",
    });
    let embedding = vector.map(codec::floats);
    let doc = DocInput {
        text: body.text,
        context: body.context,
        embedding: embedding.as_deref(),
        tags: &body.tags,
        metadata: &body.metadata,
        meta: DocMeta::from_header(&header),
    };
    index.upsert(key, &doc);
}

impl State {
    /// Rebuilds the view from LMDB: one pass over the record headers.
    pub fn load(store: &Store, analyzer: Analyzer, quantization: QuantRules) -> Result<State> {
        State::load_view(store, analyzer, quantization, true)
    }

    /// Like `load`, but every namespace's search index is left empty: the open
    /// path fills them from the search snapshot (`engine/reopen.rs`).
    pub fn load_headers(
        store: &Store,
        analyzer: Analyzer,
        quantization: QuantRules,
    ) -> Result<State> {
        State::load_view(store, analyzer, quantization, false)
    }

    fn load_view(
        store: &Store,
        analyzer: Analyzer,
        quantization: QuantRules,
        index: bool,
    ) -> Result<State> {
        let rules = quantization.clone();
        let mut state = State { analyzer, quantization, ..State::default() };
        let rtxn = store.env.read_txn()?;
        for entry in store.namespaces.iter(&rtxn)? {
            let (name, dim) = entry?;
            let dim = dim.get(..4).map_or(0, |d| u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
            state.ensure(std::str::from_utf8(name).unwrap_or_default()).dim = dim;
        }
        // Search indexing (decoding bodies, tokenizing, copying vectors) is most of
        // the work; a second thread does it, fed the records in order, while this one
        // rebuilds the LRU and TTL view (about halves the time on two cores). A third
        // builds the text-hash index (dedup): at 1 000 000 memories its map inserts,
        // a cache miss or two each, were about a third of this thread's `insert`s, on
        // the open's critical path (perf), while the snapshot's decoding thread
        // finishes well before this one.
        let (indexes, texts) = std::thread::scope(|s| -> Result<_> {
            // Batches: one channel message per record costs more than indexing it.
            type Loaded<'t> = Vec<(u32, Quantization, Arc<str>, &'t [u8], Option<&'t [u8]>)>;
            type Hashes = Vec<(u32, u64, Arc<str>)>;
            let (text_tx, text_rx) = std::sync::mpsc::sync_channel::<Hashes>(8);
            let text_indexer = s.spawn(move || {
                let mut texts: HashMap<u32, TextHashes> = HashMap::default();
                for (id, hash, key) in text_rx.into_iter().flatten() {
                    texts.entry(id).or_default().insert(hash, &key, None);
                }
                texts
            });
            let (tx, rx) = std::sync::mpsc::sync_channel::<Loaded>(8);
            let indexer = s.spawn(move || {
                let mut indexes: HashMap<u32, SearchIndex> = HashMap::default();
                for (id, quant, key, record, vector) in rx.into_iter().flatten() {
                    index_record(
                        indexes
                            .entry(id)
                            .or_insert_with(|| SearchIndex::with_quantization(analyzer, quant)),
                        &key,
                        record,
                        vector,
                    );
                }
                indexes
            });
            let mut batch = Vec::with_capacity(LOAD_BATCH);
            let mut text_batch = Vec::with_capacity(LOAD_BATCH);
            for entry in store.memories.iter(&rtxn)? {
                let (db_key, record) = entry?;
                let Some((ns, key)) = keys::split(db_key) else {
                    continue;
                };
                let header = codec::decode_header(record)?;
                let id = state.ensure(ns).id;
                let key: Arc<str> = Arc::from(key);
                if index {
                    let vector = store.embedding_bytes(&rtxn, ns, record).ok().flatten();
                    batch.push((id, rules.of(ns), key.clone(), record, vector));
                }
                if batch.len() == LOAD_BATCH {
                    // The indexer only stops early if it panicked; join reports that.
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH)));
                }
                let meta = KeyMeta::of_record(&header, record);
                if meta.text_hash != 0 {
                    text_batch.push((id, meta.text_hash, key.clone()));
                    if text_batch.len() == LOAD_BATCH {
                        let full =
                            std::mem::replace(&mut text_batch, Vec::with_capacity(LOAD_BATCH));
                        let _ = text_tx.send(full);
                    }
                }
                state.insert_but_text(id, key, meta);
            }
            let _ = tx.send(batch);
            let _ = text_tx.send(text_batch);
            drop((tx, text_tx));
            Ok((
                indexer.join().expect("the search indexer panicked"),
                text_indexer.join().expect("the text indexer panicked"),
            ))
        })?;
        for (id, index) in indexes {
            state.by_id(id).index = index;
        }
        for (id, texts) in texts {
            state.by_id(id).texts = texts;
        }
        Ok(state)
    }
}

impl State {
    /// Loads namespace `name` from `txn` into the view, as an open would (its LRU and
    /// TTL entries, counts, search index and text hashes, in key order): a partition's
    /// copy just installed (`engine/snapshot.rs`). The caller dropped it from the view
    /// first. A name the store does not hold is left out.
    pub fn load_namespace(&mut self, store: &Store, txn: &heed::RoTxn, name: &str) -> Result<()> {
        let dim = store.namespace_dim(txn, name)?;
        let prefix = keys::namespace_prefix(name);
        let mut id = None;
        if let Some(dim) = dim {
            let space = self.ensure(name);
            space.dim = dim;
            id = Some(space.id);
        }
        for entry in store.memories.prefix_iter(txn, &prefix)? {
            let (db_key, record) = entry?;
            let Some((_, key)) = keys::split(db_key) else {
                continue;
            };
            let id = *id.get_or_insert_with(|| self.ensure(name).id);
            let header = codec::decode_header(record)?;
            let key: Arc<str> = Arc::from(key);
            let vector = store.embedding_bytes(txn, name, record).ok().flatten();
            index_record(&mut self.by_id(id).index, &key, record, vector);
            let meta = KeyMeta::of_record(&header, record);
            if meta.text_hash != 0 {
                self.by_id(id).texts.insert(meta.text_hash, &key, None);
            }
            self.insert_but_text(id, key, meta);
        }
        Ok(())
    }
}
