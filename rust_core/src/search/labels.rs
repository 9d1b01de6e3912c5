//! `Labels`: the tags and metadata entries of one namespace, interned to ids with
//! reference counts (labels of removed memories are forgotten), each with the list
//! of slots holding it. The slot lists are updated lazily: a removal leaves a stale
//! entry, cleaned when stale entries outnumber live ones, so removing a document
//! never searches a long list. Filters resolve names to ids here and use a
//! selective label's slot list to drive their scan (`filter::Compiled::driver`).

use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A tag or a metadata entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// A tag.
    Tag(Box<str>),
    /// A metadata key and value.
    Meta(Box<str>, Box<str>),
}

/// Interned labels of one namespace, with reference counts.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    ids: Map<Label, u32>,
    refs: Vec<u32>,
    names: Vec<Option<Label>>,
    free: Vec<u32>,
    /// Slots holding each label; may also hold stale slots (see `release`).
    docs: Vec<Vec<u32>>,
}

impl Labels {
    /// The sorted ids of a document's labels, interning new ones.
    pub fn acquire(&mut self, tags: &[String], metadata: &[(String, String)]) -> Box<[u32]> {
        let labels = tags
            .iter()
            .map(|t| Label::Tag(t.as_str().into()))
            .chain(metadata.iter().map(|(k, v)| Label::Meta(k.as_str().into(), v.as_str().into())));
        let mut ids: Vec<u32> = labels.map(|l| self.intern(l)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_boxed_slice()
    }

    fn intern(&mut self, label: Label) -> u32 {
        if let Some(&id) = self.ids.get(&label) {
            return id;
        }
        let id = if let Some(id) = self.free.pop() {
            self.names[id as usize] = Some(label.clone());
            id
        } else {
            self.names.push(Some(label.clone()));
            self.refs.push(0);
            self.docs.push(Vec::new());
            (self.names.len() - 1) as u32
        };
        self.ids.insert(label, id);
        id
    }

    /// Records that the document at `slot` holds `ids` (after `acquire` interned them).
    pub fn add_refs(&mut self, ids: &[u32], slot: u32) {
        for &id in ids {
            self.refs[id as usize] += 1;
            self.docs[id as usize].push(slot);
        }
    }

    /// Releases a document's labels; labels no document holds are forgotten.
    /// `holds(slot, id)` tells whether a slot still holds a label, for cleaning
    /// a label's slot list once most of it is stale.
    pub fn release(&mut self, ids: &[u32], holds: impl Fn(u32, u32) -> bool) {
        for &id in ids {
            let at = id as usize;
            self.refs[at] -= 1;
            let live = self.refs[at] as usize;
            if live == 0 {
                if let Some(label) = self.names[at].take() {
                    self.ids.remove(&label);
                }
                self.docs[at] = Vec::new();
                self.free.push(id);
            } else if self.docs[at].len() > 2 * live + 16 {
                let list = &mut self.docs[at];
                list.retain(|&slot| holds(slot, id));
                list.sort_unstable();
                list.dedup();
            }
        }
    }

    /// The slots holding label `id`, possibly with stale ones (in no order).
    pub fn slots(&self, id: u32) -> &[u32] {
        &self.docs[id as usize]
    }

    /// The id of `label`, if a document holds it.
    pub fn id(&self, label: &Label) -> Option<u32> {
        self.ids.get(label).copied()
    }
}

/// Snapshot entry points (`search::persist`).
impl Labels {
    /// Label ids in use or free (every id a document may hold is below this).
    pub(crate) fn id_count(&self) -> usize {
        self.names.len()
    }

    /// Writes every label id's name (or none), reference count and slot list.
    pub(crate) fn encode(&self, w: &mut super::persist::Writer) {
        w.len(self.names.len());
        for (name, (refs, docs)) in self.names.iter().zip(self.refs.iter().zip(&self.docs)) {
            match name {
                None => w.u8(0),
                Some(Label::Tag(t)) => {
                    w.u8(1);
                    w.str(t);
                }
                Some(Label::Meta(k, v)) => {
                    w.u8(2);
                    w.str(k);
                    w.str(v);
                }
            }
            w.u32(*refs);
            w.u32s(docs);
        }
        w.u32s(&self.free);
    }

    /// Reads what `encode` wrote; every slot listed must be below `slots`.
    pub(crate) fn decode(
        slots: usize,
        r: &mut super::persist::Reader,
    ) -> super::persist::Got<Labels> {
        let bad = || super::persist::Bad::malformed("labels");
        let n = r.len(9)?;
        let mut labels = Labels::default();
        for id in 0..n as u32 {
            let name = match r.u8()? {
                0 => None,
                1 => Some(Label::Tag(r.str()?.into())),
                2 => Some(Label::Meta(r.str()?.into(), r.str()?.into())),
                _ => return Err(bad()),
            };
            if let Some(label) = &name {
                labels.ids.insert(label.clone(), id);
            }
            labels.names.push(name);
            labels.refs.push(r.u32()?);
            let docs = r.u32s()?;
            if docs.iter().any(|&s| s as usize >= slots) {
                return Err(bad());
            }
            labels.docs.push(docs);
        }
        labels.free = r.u32s()?;
        if labels.free.iter().any(|&id| id as usize >= n) {
            return Err(bad());
        }
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_lists_drop_stale_entries_once_they_dominate() {
        let mut labels = Labels::default();
        let tags = vec!["t".to_owned()];
        let mut held = [true; 100];
        for slot in 0..100 {
            let ids = labels.acquire(&tags, &[]);
            labels.add_refs(&ids, slot);
        }
        let id = labels.id(&Label::Tag("t".into())).unwrap();
        for slot in 0..90 {
            held[slot as usize] = false;
            labels.release(&[id], |s, _| held[s as usize]);
        }
        let mut live: Vec<u32> = labels.slots(id).to_vec();
        live.sort_unstable();
        assert!(live.len() < 40, "compacted: {}", live.len());
        assert!((90..100).all(|s| live.contains(&s)));
        for _ in 90..100 {
            labels.release(&[id], |_, _| false);
        }
        assert_eq!(labels.id(&Label::Tag("t".into())), None);
    }
}
