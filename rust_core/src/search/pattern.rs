//! Pattern search: globs and regular expressions over memory text.
//!
//! Patterns are compiled by the `regex` crate, whose engines are finite automata: a
//! match costs time linear in the text whatever the pattern (no backtracking, so no
//! catastrophic patterns), and look-around and backreferences, which would need
//! backtracking, are refused. What a pattern may cost is bounded three ways: its
//! length (`MAX_PATTERN_BYTES`), its compiled program (`MAX_COMPILED_BYTES`, so a
//! short pattern cannot expand into a huge automaton, e.g. `(?:\w{1000}){1000}`) and the
//! lazy DFA's cache (`DFA_CACHE_BYTES`). A search bounds the text it reads
//! (`MAX_SCAN_BYTES`, `engine/pattern.rs`).
//!
//! A glob is translated into an anchored regular expression, so both syntaxes run on
//! the same engine: `*` any run of characters (newlines included: a memory's text is
//! not a path), `?` one character, `[...]` a set (`!` or `^` first negates it), `\`
//! makes the next character literal. A glob matches the whole text; a regular
//! expression matches anywhere in it unless anchored.
//!
//! This module also ranks a pattern-only search's candidates (`rank_all`): every
//! eligible document, relevance 1.

use super::index::SearchIndex;
use super::query::Plan;
use super::score::{Explain, Ranked};
use crate::error::{CoreError, Result};
use regex::{Regex, RegexBuilder};
use std::fmt::Write;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// Largest compiled program of a pattern (the `regex` crate's `size_limit`).
pub const MAX_COMPILED_BYTES: usize = 1 << 20;
/// Cache of the lazy DFA per pattern (the `regex` crate's `dfa_size_limit`).
pub const DFA_CACHE_BYTES: usize = 2 << 20;
/// Most bytes of text one pattern search reads to find its hits.
pub const MAX_SCAN_BYTES: u64 = 64 << 20;

/// The language of a pattern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Syntax {
    /// A glob, matching the whole text.
    #[default]
    Glob,
    /// A regular expression (the `regex` crate's syntax), matching anywhere.
    Regex,
}

/// A pattern as requested.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatternSpec {
    /// The pattern's source.
    pub pattern: String,
    /// How to read it.
    pub syntax: Syntax,
    /// Match letters regardless of case.
    pub ignore_case: bool,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    /// Compiles `spec` within the bounds above; `InvalidArgument` naming the problem.
    pub fn compile(spec: &PatternSpec) -> Result<Pattern> {
        let source = &spec.pattern;
        if source.is_empty() {
            return Err(CoreError::invalid("the pattern is empty"));
        }
        if source.len() > MAX_PATTERN_BYTES {
            return Err(CoreError::invalid(format!(
                "the pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                source.len()
            )));
        }
        let translated;
        let regex = match spec.syntax {
            Syntax::Regex => source.as_str(),
            Syntax::Glob => {
                translated = glob_to_regex(source)?;
                translated.as_str()
            }
        };
        let compiled = RegexBuilder::new(regex)
            .case_insensitive(spec.ignore_case)
            .size_limit(MAX_COMPILED_BYTES)
            .dfa_size_limit(DFA_CACHE_BYTES)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => CoreError::invalid(format!(
                    "the pattern compiles to more than {MAX_COMPILED_BYTES} bytes; simplify it \
                     (large repetition counts multiply its size)"
                )),
                // The syntax error's own text points at the offending part.
                other => CoreError::invalid(format!("invalid pattern: {other}")),
            })?;
        Ok(Pattern { regex: compiled })
    }

    /// True when `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// The anchored regular expression of a glob.
pub fn glob_to_regex(glob: &str) -> Result<String> {
    let mut out = String::with_capacity(glob.len() * 2 + 8);
    out.push_str("(?s)^(?:");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                let next = chars.next().ok_or_else(|| {
                    CoreError::invalid("the glob ends with \\ (escape a \\ as \\\\)")
                })?;
                literal(&mut out, next);
            }
            '[' => {
                let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                let mut set: Vec<(char, char)> = Vec::new();
                // A `]` first in the set is a member, as in shells.
                let mut first = true;
                loop {
                    let Some(c) = chars.next() else {
                        return Err(CoreError::invalid(
                            "the glob has a [ without its ] (escape a literal [ as \\[)",
                        ));
                    };
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' {
                        chars.next().ok_or_else(|| CoreError::invalid("the glob ends with \\"))?
                    } else {
                        c
                    };
                    let range = chars.peek() == Some(&'-') && {
                        let mut ahead = chars.clone();
                        ahead.next();
                        ahead.peek().is_some_and(|&c| c != ']')
                    };
                    if range {
                        chars.next();
                        let mut hi = chars.next().expect("peeked");
                        if hi == '\\' {
                            hi = chars
                                .next()
                                .ok_or_else(|| CoreError::invalid("the glob ends with \\"))?;
                        }
                        if hi < lo {
                            return Err(CoreError::invalid(format!(
                                "the glob's range {lo}-{hi} is reversed"
                            )));
                        }
                        set.push((lo, hi));
                    } else {
                        set.push((lo, lo));
                    }
                }
                out.push('[');
                if negated {
                    out.push('^');
                }
                // Every member as a code point escape: nothing in a set is special then.
                for (lo, hi) in set {
                    let _ = write!(out, "\\x{{{:X}}}", lo as u32);
                    if hi != lo {
                        let _ = write!(out, "-\\x{{{:X}}}", hi as u32);
                    }
                }
                out.push(']');
            }
            c => literal(&mut out, c),
        }
    }
    out.push_str(")$");
    Ok(out)
}

fn literal(out: &mut String, c: char) {
    let mut buf = [0; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

impl SearchIndex {
    /// Every eligible document of a search without keyword or vector relevance, best
    /// first: relevance 1 each, so they rank by recency, frequency and importance.
    pub fn rank_all(&self, plan: &Plan) -> Vec<Ranked> {
        let Some(filter) = plan.filter.compile(&self.labels, plan.scorer.now_ms) else {
            return Vec::new();
        };
        let slots: Box<dyn Iterator<Item = u32>> =
            match filter.driver(&self.labels, self.keys.len()) {
                Some(slots) => Box::new(slots.into_iter()),
                None => Box::new(0..self.keys.len() as u32),
            };
        let mut ranked: Vec<Ranked> = slots
            .filter(|&slot| {
                let at = slot as usize;
                self.alive(slot) && filter.matches(&self.meta[at], &self.doc_labels[at])
            })
            .map(|slot| {
                let at = slot as usize;
                let e = Explain { relevance: 1.0, ..Explain::default() };
                let explain = plan.scorer.finish(e, &self.meta[at]);
                let key = self.keys[at].clone().expect("eligible slots are live");
                Ranked { score: explain.score, key, slot, explain }
            })
            .collect();
        ranked.sort_unstable();
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> Pattern {
        Pattern::compile(&PatternSpec { pattern: p.into(), ..PatternSpec::default() }).unwrap()
    }

    fn regex(p: &str, ignore_case: bool) -> Result<Pattern> {
        Pattern::compile(&PatternSpec { pattern: p.into(), syntax: Syntax::Regex, ignore_case })
    }

    #[test]
    fn globs_match_the_whole_text() {
        assert!(glob("*tea*").is_match("the user likes tea\nand cake"));
        assert!(!glob("tea").is_match("green tea"));
        assert!(glob("t?a").is_match("tea"));
        assert!(!glob("t?a").is_match("ta"));
        assert!(glob("[bc]at").is_match("cat"));
        assert!(!glob("[!bc]at").is_match("cat"));
        assert!(glob("[^bc]at").is_match("hat"));
        assert!(glob("v[0-9].*").is_match("v2.1"));
        assert!(glob("[]]").is_match("]"));
        assert!(glob("a\\*b").is_match("a*b"));
        assert!(!glob("a\\*b").is_match("axb"));
        assert!(glob("1+1=(2)").is_match("1+1=(2)"), "regex syntax is literal in a glob");
        assert!(glob("[a-]").is_match("-"));
        assert!(glob("?").is_match("é"), "? is one character, not one byte");
    }

    #[test]
    fn bad_globs_are_invalid() {
        for bad in ["[abc", "abc\\", "[z-a]", ""] {
            let got = Pattern::compile(&PatternSpec { pattern: bad.into(), ..Default::default() });
            assert!(matches!(got, Err(CoreError::InvalidArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn regexes_match_anywhere_and_fold_case_on_request() {
        assert!(regex(r"\btea\b", false).unwrap().is_match("green tea please"));
        assert!(!regex("^tea", false).unwrap().is_match("green tea"));
        assert!(regex("TEA", true).unwrap().is_match("green tea"));
        assert!(!regex("TEA", false).unwrap().is_match("green tea"));
    }

    #[test]
    fn patterns_are_bounded() {
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert!(regex(&long, false).is_err());
        let huge = regex(r"(?:\w{1000}){1000}", false).unwrap_err();
        assert!(huge.message().contains("compiles to more than"), "{huge}");
        let lookaround = regex("(?=a)", false).unwrap_err();
        assert!(lookaround.message().contains("invalid pattern"), "{lookaround}");
    }

    #[test]
    fn matching_is_linear_on_a_classic_backtracking_trap() {
        // (a+)+$ against "aaaa…b" takes exponential time in a backtracking engine.
        let p = regex("(a+)+$", false).unwrap();
        let text = format!("{}b", "a".repeat(100_000));
        assert!(!p.is_match(&text));
    }
}
