//! Fuzzy keyword terms: a query word the index does not hold is replaced by the
//! index's words within a small edit distance (typo tolerance, opt-in per request).
//!
//! # Algorithm
//!
//! A query term found in the index, or shorter than 4 characters, stays as it is.
//! Any other term is replaced by every indexed term within Levenshtein distance 1
//! (terms of 4 to 7 characters) or 2 (8 and more), or kept when none is: a
//! misspelling is rarely itself an indexed word, and expanding words that are
//! would only add noise to the terms the user did type right. Candidates are every
//! indexed term whose length is within the distance (one pass over the namespace's
//! vocabulary per expanded term, so a cost proportional to the number of distinct
//! words, paid only by fuzzy requests); the distance is the banded dynamic program,
//! stopping once a row exceeds the bound. Terms are compared after analysis
//! (stemmed, NFKC), as they are indexed.

use super::text::TextIndex;

/// The most edits a term of `chars` characters may differ by.
pub fn max_edits(chars: usize) -> usize {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Levenshtein distance of `a` and `b` if it is at most `max`.
pub fn within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        row[0] = i + 1;
        let mut best = row[0];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
            best = best.min(row[j + 1]);
        }
        if best > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut row);
    }
    Some(prev[b.len()]).filter(|&d| d <= max)
}

impl TextIndex {
    /// `terms` (distinct), each absent one replaced by the indexed terms within its
    /// edit distance; distinct, sorted.
    pub fn fuzzy_terms(&self, terms: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(terms.len());
        for term in terms {
            let chars: Vec<char> = term.chars().collect();
            let max = max_edits(chars.len());
            if max == 0 || self.has_term(term) {
                out.push(term.clone());
                continue;
            }
            let before = out.len();
            let mut buf = Vec::new();
            for known in self.vocabulary() {
                buf.clear();
                buf.extend(known.chars());
                if within(&chars, &buf, max).is_some() {
                    out.push(known.to_owned());
                }
            }
            if out.len() == before {
                out.push(term.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Analyzer;

    fn d(a: &str, b: &str, max: usize) -> Option<usize> {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        within(&a, &b, max)
    }

    #[test]
    fn bounded_levenshtein() {
        assert_eq!(d("marathon", "maranthon", 2), Some(1));
        assert_eq!(d("kitten", "sitting", 3), Some(3));
        assert_eq!(d("kitten", "sitting", 2), None);
        assert_eq!(d("café", "cafe", 1), Some(1));
        assert_eq!(d("", "ab", 2), Some(2));
        assert_eq!(d("abcd", "abcd", 0), Some(0));
    }

    #[test]
    fn only_absent_long_enough_terms_expand() {
        let mut ix = TextIndex::new(Analyzer::NONE);
        ix.insert(0, "marathon marathons garden cat", "");
        ix.insert(1, "gardens cut", "");
        let t = |q: &[&str]| ix.fuzzy_terms(&q.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(t(&["maranthon"]), ["marathon", "marathons"]);
        assert_eq!(t(&["garden"]), ["garden"], "an indexed term stays exact");
        assert_eq!(t(&["gardn"]), ["garden"]);
        assert_eq!(t(&["cot"]), ["cot"], "three letters: exact only");
        assert_eq!(t(&["zzzzzz"]), ["zzzzzz"]);
    }
}
