"""A seeded generator of long multi-speaker conversations and questions about them.

Each conversation is one namespace: four speakers chatting in weekly sessions over
months, one memory per turn ("Speaker: utterance") with the turn's own timestamp.
Every fact type of `facts.FACTS` happens to exactly one speaker, once, in a random
session; the topic's distractor turns (other speakers, same words, other meaning)
and filler chatter make up the rest. Questions, with their gold evidence turns:

- single: the fact asked by its speaker's name ("What breed of dog did Priya adopt?");
- multi: the fact asked through one or two other facts of the same speaker ("What
  breed of dog did the person who moved to Porto adopt?"): 2 or 3 evidence turns;
- temporal: "When did Priya adopt a beagle?" (1 turn) or "What did Priya do after
  having moved to Porto?" (that turn and the speaker's next fact: 2 turns);
- paraphrased: the fact asked with no content word of its turn (`lexicon.disjoint`,
  asserted here for every question generated);
- typo: the single-hop question with one or two words misspelt (one character
  deleted, replaced or inserted, never the first).

The same seed and size always give the same data (Python's `random.Random`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .chatter import CHATTER, FILL, SPEAKERS
from .facts import FACTS, FactType
from .lexicon import STOP, disjoint

DAY_MS = 86_400_000
T0_MS = 1_740_960_000_000  # 2025-03-03T00:00:00Z: conversations lie in the past
KINDS = ("single", "multi", "temporal", "paraphrased", "typo")


@dataclass(frozen=True)
class Size:
    conversations: int
    sessions: int
    turns_per_session: int


SIZES = {"full": Size(8, 30, 14), "small": Size(2, 10, 10)}


@dataclass(frozen=True)
class Turn:
    key: str
    speaker: str
    text: str
    created_ms: int


@dataclass(frozen=True)
class Question:
    kind: str
    namespace: str
    text: str
    gold: tuple[str, ...]


@dataclass(frozen=True)
class Fact:
    type: FactType
    speaker: str
    turn: Turn
    values: dict[str, str]

    def desc(self) -> str:
        return self.type.desc.format(**self.values)

    def past(self) -> str:
        return self.type.past.format(**self.values)


@dataclass
class Dataset:
    conversations: dict[str, list[Turn]]
    questions: list[Question]


def generate(size: Size, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    conversations: dict[str, list[Turn]] = {}
    questions: list[Question] = []
    for c in range(size.conversations):
        ns = f"conv-{c:02d}"
        turns, facts = _conversation(rng, ns, size)
        conversations[ns] = turns
        questions += _questions(rng, ns, facts)
    return Dataset(conversations, questions)


def _conversation(rng: random.Random, ns: str, size: Size) -> tuple[list[Turn], list[Fact]]:
    speakers = rng.sample(SPEAKERS, 4)
    slots = [(s, t) for s in range(size.sessions) for t in range(size.turns_per_session)]
    rng.shuffle(slots)
    planned: dict[tuple[int, int], tuple[str, str, FactType | None, dict[str, str]]] = {}
    types = list(FACTS)
    rng.shuffle(types)
    for i, ft in enumerate(types):
        speaker = speakers[i % 4]
        values = {slot: rng.choice(options) for slot, options in ft.slots.items()}
        planned[slots.pop()] = (speaker, rng.choice(ft.say).format(**values), ft, values)
        for text in ft.distract:
            other = rng.choice([s for s in speakers if s != speaker])
            planned[slots.pop()] = (other, text, None, {})
    starts = [
        T0_MS + s * 7 * DAY_MS + rng.randrange(9, 21) * 3_600_000 for s in range(size.sessions)
    ]
    turns: list[Turn] = []
    facts: list[Fact] = []
    for s in range(size.sessions):
        for t in range(size.turns_per_session):
            speaker, text, ft, values = planned.get((s, t)) or _chatter(rng, speakers)
            turn = Turn(
                f"{ns}-s{s:02d}-t{t:02d}", speaker, f"{speaker}: {text}", starts[s] + t * 90_000
            )
            turns.append(turn)
            if ft is not None:
                facts.append(Fact(ft, speaker, turn, values))
    return turns, facts


def _chatter(rng: random.Random, speakers: list[str]) -> tuple[str, str, None, dict[str, str]]:
    template = rng.choice(CHATTER)
    values = {k: rng.choice(v) for k, v in FILL.items()}
    return rng.choice(speakers), template.format(**values), None, {}


def _questions(rng: random.Random, ns: str, facts: list[Fact]) -> list[Question]:
    out: list[Question] = []
    for f in facts:
        asked = f.type.ask.format(who=f.speaker)
        out.append(Question("single", ns, asked, (f.turn.key,)))
        para = f.type.para
        if not disjoint(para, [f.turn.text]):
            raise AssertionError(f"paraphrase shares words with its evidence: {para!r}")
        out.append(Question("paraphrased", ns, para, (f.turn.key,)))
        out.append(Question("typo", ns, misspell(rng, asked, f.speaker), (f.turn.key,)))
    by_speaker: dict[str, list[Fact]] = {}
    for f in facts:  # in time order
        by_speaker.setdefault(f.speaker, []).append(f)
    for own in by_speaker.values():
        for i, target in enumerate(own):
            others = [f for f in own if f is not target]
            bridges = rng.sample(others, 2 if i % 3 == 2 else 1)
            who = " and ".join(
                b.desc() if j == 0 else b.desc().removeprefix("the person ")
                for j, b in enumerate(bridges)
            )
            gold = (*(b.turn.key for b in bridges), target.turn.key)
            out.append(Question("multi", ns, target.type.ask.format(who=who), gold))
            if i + 1 < len(own) and i % 2 == 0:
                q = f"What did {target.speaker} do after having {target.past()}?"
                out.append(Question("temporal", ns, q, (target.turn.key, own[i + 1].turn.key)))
            else:
                q = f"When did {target.speaker} {_present(target.past())}?"
                out.append(Question("temporal", ns, q, (target.turn.key,)))
    return out


def _present(past: str) -> str:
    """The bare infinitive after "did": "moved to X" -> "move to X" (the bank's verbs)."""
    verb, _, rest = past.partition(" ")
    irregular = {
        "ran": "run",
        "had": "have",
        "got": "get",
        "went": "go",
        "began": "begin",
        "lost": "lose",
        "won": "win",
        "bought": "buy",
    }
    base = irregular.get(verb) or (verb[:-1] if verb.endswith(("ved", "ted", "ied")) else verb[:-2])
    if verb.endswith("ied"):
        base = verb[:-3] + "y"
    return f"{base} {rest}".strip()


def misspell(rng: random.Random, question: str, keep: str) -> str:
    """`question` with one or two of its longer content words misspelt by one edit."""
    words = question.split(" ")
    candidates = [
        i
        for i, w in enumerate(words)
        if len(w.strip("?'s")) >= 4 and w.strip("?").lower() not in STOP and keep not in w
    ]
    for i in rng.sample(candidates, min(2, len(candidates))):
        w = words[i]
        core = w.rstrip("?")
        at = rng.randrange(1, len(core))
        letter = rng.choice("aeiourstnlc")
        op = rng.randrange(3)
        if op == 0:
            core = core[:at] + core[at + 1 :]
        elif op == 1:
            core = core[:at] + (letter if letter != core[at] else "x") + core[at + 1 :]
        else:
            core = core[:at] + letter + core[at:]
        words[i] = core + w[len(w.rstrip("?")) :]
    return " ".join(words)
