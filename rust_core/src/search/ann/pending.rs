//! The slots whose vectors are not in the graph yet: every search scans them
//! exactly, so a memory is found from the moment it is stored, and the writer
//! folds them into the graph a few at a time.

/// A set of slots with O(1) insert, remove and membership.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    slots: Vec<u32>,
    /// Per slot: its position in `slots` plus one (0: not pending).
    at: Vec<u32>,
}

impl Pending {
    /// Slots waiting.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The waiting slots, in no particular order.
    pub fn as_slice(&self) -> &[u32] {
        &self.slots
    }

    /// Adds `slot` (no effect if it waits already).
    pub fn push(&mut self, slot: u32) {
        let i = slot as usize;
        if self.at.len() <= i {
            self.at.resize(i + 1, 0);
        }
        if self.at[i] == 0 {
            self.slots.push(slot);
            self.at[i] = self.slots.len() as u32;
        }
    }

    /// Removes `slot`; returns whether it was waiting.
    pub fn remove(&mut self, slot: u32) -> bool {
        let Some(&pos) = self.at.get(slot as usize) else { return false };
        if pos == 0 {
            return false;
        }
        self.at[slot as usize] = 0;
        let pos = pos as usize - 1;
        self.slots.swap_remove(pos);
        if let Some(&moved) = self.slots.get(pos) {
            self.at[moved as usize] = pos as u32 + 1;
        }
        true
    }

    /// The last `n` slots pushed that still wait (the next to fold).
    pub fn next(&self, n: usize) -> &[u32] {
        &self.slots[self.slots.len().saturating_sub(n)..]
    }

    /// Bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        (self.slots.capacity() + self.at.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_remove_and_next() {
        let mut p = Pending::default();
        for s in [5, 1, 9, 1] {
            p.push(s);
        }
        assert_eq!(p.as_slice(), [5, 1, 9]);
        assert!(p.remove(5) && !p.remove(5) && !p.remove(100));
        assert_eq!(p.next(1), [1]);
        assert!(p.remove(1));
        assert_eq!(p.as_slice(), [9]);
        p.push(5);
        assert_eq!(p.next(5), [9, 5]);
    }
}
