//! `Analyzer`: what text becomes as BM25 terms, the same for indexing, querying and
//! phrase verification.
//!
//! 1. **NFKC**: compatibility forms fold to one spelling ("ﬁ" -> "fi", full-width
//!    "ＡＢＣ" -> "ABC", "café" with a combining accent -> the precomposed "café"),
//!    so the same word typed two ways is one term. ASCII text (the common case) and
//!    text already in NFKC are used as they are.
//! 2. **Tokens**: `tokenize::for_each_token` (lowercase words; CJK and Thai bigrams).
//! 3. **Stemming**, when a language is set: the Snowball stemmer of that language
//!    (`rust-stemmers`), so "moving", "moved" and "moves" are one term. A stemmer
//!    leaves tokens of other scripts (and numbers) as they are.
//!
//! With `engine.search_stop_words`, the language's stop-words (`stop.rs`) are dropped
//! between steps 2 and 3, from texts, queries and phrases alike.
//!
//! The language is per daemon (`engine.search_language`); every namespace's index
//! is built with it, and as indexes are rebuilt at open, changing it takes effect
//! on restart. `bench/recall_bench.py` chose the default (docs/search.md#recall).

use super::stop::StopWords;
use super::tokenize::for_each_token;
use rust_stemmers::{Algorithm, Stemmer};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Languages with a Snowball stemmer, by the name the option takes.
const LANGUAGES: [(&str, Algorithm); 18] = [
    ("arabic", Algorithm::Arabic),
    ("danish", Algorithm::Danish),
    ("dutch", Algorithm::Dutch),
    ("english", Algorithm::English),
    ("finnish", Algorithm::Finnish),
    ("french", Algorithm::French),
    ("german", Algorithm::German),
    ("greek", Algorithm::Greek),
    ("hungarian", Algorithm::Hungarian),
    ("italian", Algorithm::Italian),
    ("norwegian", Algorithm::Norwegian),
    ("portuguese", Algorithm::Portuguese),
    ("romanian", Algorithm::Romanian),
    ("russian", Algorithm::Russian),
    ("spanish", Algorithm::Spanish),
    ("swedish", Algorithm::Swedish),
    ("tamil", Algorithm::Tamil),
    ("turkish", Algorithm::Turkish),
];

/// Distinct words whose stems a thread remembers before starting over.
const STEM_CACHE: usize = 65_536;

/// Stems already computed by this thread: Snowball allocates and runs a dozen rule
/// passes per word, and a store's words repeat (without it, rebuilding the index of
/// 16 800 chat turns at open took 3 times as long as with no stemming).
#[derive(Default)]
struct StemCache {
    algorithm: Option<Algorithm>,
    stems: HashMap<Box<str>, Box<str>, foldhash::fast::RandomState>,
}

thread_local! {
    static STEMS: RefCell<StemCache> = RefCell::default();
}

/// How text becomes terms. `Copy`: every index holds its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Analyzer {
    stem: Option<Algorithm>,
    stop: Option<StopWords>,
}

impl Analyzer {
    /// No stemming (NFKC and tokens only).
    pub const NONE: Analyzer = Analyzer { stem: None, stop: None };
    /// English Snowball stemming.
    pub const ENGLISH: Analyzer = Analyzer { stem: Some(Algorithm::English), stop: None };

    /// The analyzer of a language name: "none" or a Snowball language ("english").
    pub fn parse(name: &str) -> Option<Analyzer> {
        if name == "none" {
            return Some(Analyzer::NONE);
        }
        LANGUAGES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, a)| Analyzer { stem: Some(a), stop: None })
    }

    /// This analyzer dropping its language's stop-words; `None` for a language
    /// without a list (`stop.rs`), or none.
    pub fn with_stop_words(self) -> Option<Analyzer> {
        let stop = StopWords::for_algorithm(self.stem?)?;
        Some(Analyzer { stop: Some(stop), ..self })
    }

    /// What identifies the terms this analyzer makes: its language's name, with
    /// "+stop" when it drops stop-words (a search snapshot records it).
    pub fn id(self) -> String {
        let stop = if self.stop.is_some() { "+stop" } else { "" };
        format!("{}{stop}", self.name())
    }

    /// Every name `parse` accepts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        std::iter::once("none").chain(LANGUAGES.iter().map(|(n, _)| *n))
    }

    /// The name `parse` takes for this analyzer.
    pub fn name(self) -> &'static str {
        LANGUAGES.iter().find(|(_, a)| Some(*a) == self.stem).map_or("none", |(n, _)| n)
    }

    /// Calls `emit` with every term of `text`, in order.
    pub fn for_each_term(self, text: &str, mut emit: impl FnMut(&str)) {
        let text = normalize(text);
        // Stop-words are matched on tokens, before stemming (the list's spelling).
        let stop = self.stop;
        let kept = |t: &str| !stop.is_some_and(|s| s.contains(t));
        match self.stem {
            None => for_each_token(&text, |t| {
                if kept(t) {
                    emit(t);
                }
            }),
            Some(algorithm) => STEMS.with(|cache| {
                let mut cache = cache.borrow_mut();
                if cache.algorithm != Some(algorithm) || cache.stems.len() >= STEM_CACHE {
                    *cache = StemCache { algorithm: Some(algorithm), ..StemCache::default() };
                }
                let stemmer = Stemmer::create(algorithm);
                for_each_token(&text, |t| {
                    if !kept(t) {
                        return;
                    }
                    if let Some(stem) = cache.stems.get(t) {
                        emit(stem);
                    } else {
                        let stem: Box<str> = stemmer.stem(t).into();
                        emit(&stem);
                        cache.stems.insert(t.into(), stem);
                    }
                });
            }),
        }
    }

    /// All terms of `text`, in order.
    pub fn terms(self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_term(text, |t| out.push(t.to_owned()));
        out
    }

    /// True when `phrase` (terms of this analyzer) occurs in `text` as consecutive
    /// terms. An empty phrase occurs everywhere.
    pub fn contains_phrase(self, text: &str, phrase: &[String]) -> bool {
        phrase.is_empty() || self.terms(text).windows(phrase.len()).any(|w| w == phrase)
    }
}

/// `text` in NFKC, borrowed when it already is.
fn normalize(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_folds_spellings_of_one_word() {
        let a = Analyzer::NONE;
        assert_eq!(a.terms("cafe\u{301} ＡＢＣ ﬁle"), ["café", "abc", "file"]);
        assert_eq!(a.terms("café"), a.terms("cafe\u{301}"));
        assert_eq!(a.terms("東京都"), ["東京", "京都"]);
    }

    #[test]
    fn english_stems_inflections_to_one_term() {
        let a = Analyzer::ENGLISH;
        assert_eq!(a.terms("Moving moved moves"), ["move", "move", "move"]);
        assert_eq!(a.terms("adopted puppies 42 東京"), ["adopt", "puppi", "42", "東京"]);
        assert!(a.contains_phrase("we are moving to Porto", &a.terms("moved to porto")));
        assert!(!Analyzer::NONE.contains_phrase("moving to porto", &["moved".into()]));
    }

    #[test]
    fn phrase_match_is_on_terms() {
        let a = Analyzer::NONE;
        let p = a.terms("New York");
        assert!(a.contains_phrase("I moved to new-york city", &p));
        assert!(!a.contains_phrase("york new", &p));
        assert!(a.contains_phrase("東京都庁", &a.terms("東京都")));
    }

    #[test]
    fn stop_words_are_dropped_before_stemming_everywhere() {
        let a = Analyzer::ENGLISH.with_stop_words().unwrap();
        assert_eq!(a.terms("The cat sat on the mat"), ["cat", "sat", "mat"]);
        // "ins" and "outs" stem to "in" and "out", stop-words: tokens are matched,
        // not stems.
        assert_eq!(a.terms("the ins and outs"), ["in", "out"]);
        assert_eq!(a.terms("who is it"), Vec::<String>::new());
        // A phrase skips stop-words on both sides.
        let plain = Analyzer::ENGLISH;
        assert!(a.contains_phrase("the cat under a mat", &a.terms("cat on the mat")));
        assert!(!plain.contains_phrase("the cat under a mat", &plain.terms("cat on the mat")));
        assert_eq!((a.id(), plain.id()), ("english+stop".to_owned(), "english".to_owned()));
        assert_eq!(Analyzer::NONE.with_stop_words(), None);
        assert_eq!(Analyzer::parse("french").unwrap().with_stop_words(), None);
    }

    #[test]
    fn names_round_trip() {
        for name in Analyzer::names() {
            assert_eq!(Analyzer::parse(name).map(Analyzer::name), Some(name));
        }
        assert_eq!(Analyzer::parse("klingon"), None);
        assert_eq!(Analyzer::default(), Analyzer::NONE);
    }
}
