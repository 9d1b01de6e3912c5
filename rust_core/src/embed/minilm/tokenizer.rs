//! BERT's uncased `WordPiece` tokenizer, as all-MiniLM-L6-v2 was trained with it
//! (Hugging Face `BertTokenizer`, `do_lower_case`, `tokenize_chinese_chars`): clean
//! out control characters, put spaces around CJK ideographs, lowercase, strip accents
//! (NFD without nonspacing marks), split on whitespace and punctuation, then match
//! each word greedily against `vocab.txt`, longest piece first, continuations
//! prefixed `##`. Differences from the reference change token ids, and so vectors:
//! `tests` pins ids that the reference produced.

use crate::error::{CoreError, Result};
use regex::Regex;
use std::collections::HashMap;
use std::path::Path;
use unicode_normalization::UnicodeNormalization;

/// Words longer than this are one `[UNK]`, as in the reference.
const MAX_WORD_CHARS: usize = 100;

/// The CJK Unified Ideographs blocks the reference splits character by character.
const CJK: &str = r"\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}";
/// Punctuation for BERT: Unicode's P categories and every ASCII non-alphanumeric
/// printable character (`$`, `+`, `^`, … are symbols to Unicode, punctuation here).
const PUNCT: &str = r"\p{P}!-/:-@\[-`{-~";

/// A `WordPiece` vocabulary and the patterns of the basic tokenizer.
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    control: Regex,
    marks: Regex,
    cjk: Regex,
    words: Regex,
}

impl WordPiece {
    /// Reads `vocab.txt`: one token per line, its id the line number.
    pub fn load(path: &Path) -> Result<WordPiece> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CoreError::invalid(format!("cannot read the vocabulary {}: {e}", path.display()))
        })?;
        let vocab: HashMap<String, u32> =
            text.lines().enumerate().map(|(i, t)| (t.to_owned(), i as u32)).collect();
        let id = |t: &str| {
            vocab.get(t).copied().ok_or_else(|| {
                CoreError::invalid(format!("the vocabulary {} lacks {t}", path.display()))
            })
        };
        let (unk, cls, sep) = (id("[UNK]")?, id("[CLS]")?, id("[SEP]")?);
        let re = |p: &str| Regex::new(p).expect("a valid pattern");
        Ok(WordPiece {
            unk,
            cls,
            sep,
            control: re(r"[\p{Cc}\p{Cf}\x{FFFD}]"),
            marks: re(r"\p{Mn}"),
            cjk: re(&format!("[{CJK}]")),
            words: re(&format!("[{PUNCT}]|[^\\s{PUNCT}]+")),
            vocab,
        })
    }

    /// The vocabulary's size (the model's embedding table has one row per token).
    pub fn size(&self) -> usize {
        self.vocab.len()
    }

    /// `[CLS] pieces… [SEP]`, at most `max` ids (the pieces cut at the end).
    pub fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        let spaced = text.replace(['\t', '\n', '\r'], " ");
        let clean = self.control.replace_all(&spaced, "");
        let split = self.cjk.replace_all(&clean, " $0 ");
        let lower: String = split.to_lowercase().nfd().collect();
        let plain = self.marks.replace_all(&lower, "");
        let mut ids = vec![self.cls];
        for word in self.words.find_iter(&plain) {
            self.word_pieces(word.as_str(), &mut ids);
            if ids.len() >= max - 1 {
                break;
            }
        }
        ids.truncate(max - 1);
        ids.push(self.sep);
        ids
    }

    /// Greedy longest-match-first; a word with an unmatchable rest is one `[UNK]`.
    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let first = out.len();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(&piece) {
                    break Some(id);
                }
                match word[start..end].char_indices().next_back() {
                    Some((i, _)) if i > 0 => end = start + i,
                    _ => break None,
                }
            };
            let Some(id) = found else {
                out.truncate(first);
                out.push(self.unk);
                return;
            };
            out.push(id);
            start = end;
        }
    }
}
