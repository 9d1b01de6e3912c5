"""Content words, and the mechanical check that a paraphrased question shares none.

A question is *disjoint* from its evidence when, after lowercasing, splitting on
non-letters and dropping stop-words, no word of one equals a word of the other, has
the same crude stem (common English suffixes cut: "moving"/"move"), or shares its
first five letters ("marriage"/"married"). That is stricter than any stemmer memd
could use, so keyword search cannot find the evidence through the question's words.
"""

from __future__ import annotations

import re

STOP = frozenset(
    """a about after again all am an and any are as at be been before being but by can
    could did do does doing done for from get gets got had has have having he her here
    him his how i if in into is it its just me more most my no not now of off on once one
    only or other our ours out over own same she should so some somebody someone such
    than that the their them then there these they this those through to too under until
    up us very was we were what when where which while who whom why will with would you
    your yours s t ll ve re d m""".split()
)
_SUFFIXES = ("ingly", "edly", "ing", "ers", "ies", "ied", "es", "ed", "er", "ly", "s", "e")
_WORD = re.compile(r"[^\W\d_]+")


def words(text: str) -> list[str]:
    """Lowercase letter runs of `text` (digits and punctuation separate)."""
    return _WORD.findall(text.lower())


def content(text: str) -> set[str]:
    """The words of `text` that are not stop-words."""
    return {w for w in words(text) if w not in STOP}


def stem(word: str) -> str:
    """Cuts the longest common English suffix, keeping at least three letters."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def shared(question: str, evidence: str) -> set[str]:
    """Question words matching an evidence word by equality, stem or 5-letter prefix."""
    ev = content(evidence)
    ev_stems = {stem(w) for w in ev}
    ev_prefixes = {w[:5] for w in ev if len(w) >= 5}
    return {
        w
        for w in content(question)
        if w in ev or stem(w) in ev_stems or (len(w) >= 5 and w[:5] in ev_prefixes)
    }


def disjoint(question: str, evidence: list[str]) -> bool:
    """True when `question` shares no content word with any evidence text."""
    return not any(shared(question, e) for e in evidence)
