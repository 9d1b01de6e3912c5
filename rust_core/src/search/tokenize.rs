//! The tokenizer shared by indexing, querying and phrase verification, so the three
//! always agree on what a term is.
//!
//! # Algorithm
//!
//! Text is cut into runs of three kinds of characters:
//!
//! - **word characters**: `char::is_alphanumeric` plus combining marks (U+0300..U+036F
//!   and the other combining-mark blocks), so "café" typed with a combining accent
//!   stays one word. A word is lowercased with full Unicode case mapping
//!   (`char::to_lowercase`: "STRASSE" -> "strasse", "Ωμέγα" -> "ωμέγα").
//! - **unsegmented-script characters**: Han, Hiragana, Katakana, Thai, Lao, Khmer and
//!   Myanmar. These scripts do not put spaces between words and we ship no
//!   dictionary, so a run of them becomes overlapping character **bigrams**
//!   ("東京都" -> "東京", "京都"), the approach of Lucene's `CJKAnalyzer`. A run of one
//!   character is emitted as a unigram. Thai vowel and tone marks are part of the Thai
//!   block, so they stay inside the bigrams instead of splitting words. A query
//!   of two or more such characters finds any text containing them contiguously; a
//!   single-character query only finds single-character runs.
//! - anything else (spaces, punctuation, symbols, emoji) separates tokens.
//!
//! Hangul is written with spaces and is treated as word characters. Stop-words are
//! not this module's business: the optional lists (`stop.rs`) are applied to its
//! tokens by the analyzer. Unicode normalisation, stop-words and stemming happen
//! around this, in `analyze.rs`, which is what indexes and queries
//! call. Tokens longer than `MAX_TOKEN_BYTES` (base64 blobs, hashes of hashes) are
//! dropped.

/// Longest token kept, in UTF-8 bytes.
pub const MAX_TOKEN_BYTES: usize = 128;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Bigram,
    Separator,
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

fn is_unsegmented(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF          // Thai, Lao
        | 0x1000..=0x109F        // Myanmar
        | 0x1780..=0x17FF        // Khmer
        | 0x3040..=0x30FF        // Hiragana, Katakana
        | 0x31F0..=0x31FF        // Katakana phonetic extensions
        | 0x3400..=0x4DBF        // CJK extension A
        | 0x4E00..=0x9FFF        // CJK unified ideographs
        | 0xF900..=0xFAFF        // CJK compatibility ideographs
        | 0xFF66..=0xFF9F        // halfwidth Katakana
        | 0x20000..=0x3134F) // CJK extensions B..G
}

#[inline]
fn class(c: char) -> Class {
    if c.is_ascii() {
        // The common case, without the Unicode tables.
        if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Separator
        }
    } else if is_unsegmented(c) {
        // Checked first: ideographs are alphanumeric too, but must not form words.
        Class::Bigram
    } else if c.is_alphanumeric() || is_combining_mark(c) {
        Class::Word
    } else {
        Class::Separator
    }
}

/// Calls `emit` with every token of `text`, in order. `emit` gets a buffer that is
/// reused between calls.
pub fn for_each_token(text: &str, mut emit: impl FnMut(&str)) {
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, emit: &mut dyn FnMut(&str)| {
        if !word.is_empty() && word.len() <= MAX_TOKEN_BYTES {
            emit(word);
        }
        word.clear();
    };
    let flush_run = |run: &mut Vec<char>, emit: &mut dyn FnMut(&str)| {
        let mut pair = String::new();
        if run.len() == 1 {
            pair.push(run[0]);
            emit(&pair);
        }
        for w in run.windows(2) {
            pair.clear();
            pair.push(w[0]);
            pair.push(w[1]);
            emit(&pair);
        }
        run.clear();
    };
    for c in text.chars() {
        match class(c) {
            Class::Word => {
                flush_run(&mut run, &mut emit);
                if c.is_ascii() {
                    word.push(c.to_ascii_lowercase());
                } else {
                    word.extend(c.to_lowercase());
                }
            }
            Class::Bigram => {
                flush_word(&mut word, &mut emit);
                run.push(c);
            }
            Class::Separator => {
                flush_word(&mut word, &mut emit);
                flush_run(&mut run, &mut emit);
            }
        }
    }
    flush_word(&mut word, &mut emit);
    flush_run(&mut run, &mut emit);
}

/// All tokens of `text`, in order.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |t| out.push(t.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_splits_on_punctuation() {
        assert_eq!(
            tokens("Hello, WORLD! user_42 e-mail: a.b@c.io"),
            ["hello", "world", "user", "42", "e", "mail", "a", "b", "c", "io"]
        );
        assert_eq!(tokens("STRASSE Ωμέγα ÉTÉ"), ["strasse", "ωμέγα", "été"]);
    }

    #[test]
    fn combining_accent_stays_in_the_word() {
        assert_eq!(tokens("cafe\u{301} au lait"), ["cafe\u{301}", "au", "lait"]);
    }

    #[test]
    fn cjk_and_thai_become_bigrams() {
        assert_eq!(tokens("東京都に行く"), ["東京", "京都", "都に", "に行", "行く"]);
        assert_eq!(tokens("東 tower"), ["東", "tower"]);
        assert_eq!(tokens("東京tower"), ["東京", "tower"]);
        // Thai tone mark (U+0E48) does not split the word.
        assert_eq!(tokens("ค่า"), ["ค\u{e48}", "\u{e48}า"]);
    }

    #[test]
    fn hangul_is_spaced_words() {
        assert_eq!(tokens("안녕 하세요"), ["안녕", "하세요"]);
    }

    #[test]
    fn drops_giant_tokens_and_separators_only() {
        assert!(tokens(&"x".repeat(MAX_TOKEN_BYTES + 1)).is_empty());
        assert!(tokens(" !? -- 🙂 ").is_empty());
    }
}
