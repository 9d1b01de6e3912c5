//! Stop-word lists of keyword search (`engine.search_stop_words`), per language.
//!
//! A stop-word is dropped from a text's terms before stemming, at indexing, at query
//! time and in phrase verification alike (`Analyzer::for_each_term`), so it is
//! neither a term of the index nor of a query, nor a position of a phrase: the
//! phrase "cat on the mat" is the terms `cat mat`, and it matches "the cat under a
//! mat" as well. A query or phrase made only of stop-words has no searchable words.
//!
//! **English** is the Snowball project's list (`algorithms/english/stop.txt` at
//! snowballstem.org, BSD-3-Clause, © Martin Porter and Richard Boulton), all of its
//! 174 words, kept whole so the list is the published one. Its contractions
//! ("don't", "she's") never match: the tokenizer (`tokenize.rs`) splits words at an
//! apostrophe, and their fragments are not dropped ("won" of "won't" is also a verb),
//! so in effect the list's 124 words without an apostrophe apply. Other languages have
//! no list yet; asking for stop-words with them is a configuration error
//! (`for_algorithm`).

use rust_stemmers::Algorithm;

/// Snowball's English stop-words, sorted (binary-searched; checked by a test).
const ENGLISH: [&str; 174] = [
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren't",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can't",
    "cannot",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "having",
    "he",
    "he'd",
    "he'll",
    "he's",
    "her",
    "here",
    "here's",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "how's",
    "i",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "if",
    "in",
    "into",
    "is",
    "isn't",
    "it",
    "it's",
    "its",
    "itself",
    "let's",
    "me",
    "more",
    "most",
    "mustn't",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "ought",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "shan't",
    "she",
    "she'd",
    "she'll",
    "she's",
    "should",
    "shouldn't",
    "so",
    "some",
    "such",
    "than",
    "that",
    "that's",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "there's",
    "these",
    "they",
    "they'd",
    "they'll",
    "they're",
    "they've",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "wasn't",
    "we",
    "we'd",
    "we'll",
    "we're",
    "we've",
    "were",
    "weren't",
    "what",
    "what's",
    "when",
    "when's",
    "where",
    "where's",
    "which",
    "while",
    "who",
    "who's",
    "whom",
    "why",
    "why's",
    "with",
    "won't",
    "would",
    "wouldn't",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// A language's stop-word list, sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopWords(&'static [&'static str]);

impl StopWords {
    /// The list of the stemmer `algorithm`'s language; `None` when memd has none.
    pub fn for_algorithm(algorithm: Algorithm) -> Option<StopWords> {
        match algorithm {
            Algorithm::English => Some(StopWords(&ENGLISH)),
            _ => None,
        }
    }

    /// True when `token` (lowercase, as the tokenizer emits it) is a stop-word.
    pub fn contains(self, token: &str) -> bool {
        // No list holds a word longer than 10 bytes: most tokens skip the search.
        token.len() <= 10 && self.0.binary_search(&token).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_english_list_is_sorted_lowercase_and_short() {
        assert!(ENGLISH.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        assert!(ENGLISH.iter().all(|w| *w == w.to_lowercase() && w.len() <= 10));
        let stop = StopWords::for_algorithm(Algorithm::English).unwrap();
        assert!(stop.contains("the") && stop.contains("don't") && stop.contains("yourselves"));
        assert!(!stop.contains("porto") && !stop.contains("marathon") && !stop.contains(""));
        assert_eq!(StopWords::for_algorithm(Algorithm::French), None);
    }
}
