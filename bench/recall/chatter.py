"""What the speakers say between facts: their names and templated chatter."""

from __future__ import annotations

# Turns that carry no fact: the bulk of a conversation, each a template filled
# from the word lists below so texts do not repeat.
CHATTER = [
    "anyone up for {activity} on {day}?",
    "I'm so tired, {activity} took the whole {part}",
    "did you see the {thing} at the {shop}? ridiculous price",
    "the weather on {day} looks {weather}, maybe {activity} instead",
    "can't decide between {thing} and {thing2} for dinner",
    "my {relative} called about {activity} again",
    "work is {weather} this week, too many meetings",
    "just finished {activity}, need a shower",
    "reminder: {relative}'s birthday is on {day}",
    "the {shop} near me closes early on {day}",
    "has anyone tried the new {thing} place downtown?",
    "lol that {thing} meme is everywhere",
    "running late, {activity} overran",
    "we should plan {activity} for the long weekend",
    "my {relative} recommended a {thing} recipe, it was {weather}",
]
FILL: dict[str, list[str]] = {
    "activity": [
        "board games",
        "the quiz night",
        "grocery shopping",
        "laundry",
        "a long walk",
        "cleaning the oven",
        "yoga",
        "tax paperwork",
        "painting the fence",
        "a film marathon",
        "bowling",
        "karaoke",
    ],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "part": ["morning", "afternoon", "evening", "day"],
    "thing": ["pizza", "sushi", "curry", "lasagne", "tacos", "dumplings", "ramen", "falafel"],
    "thing2": ["soup", "salad", "noodles", "burgers", "stew"],
    "shop": ["bakery", "market", "corner shop", "supermarket", "deli"],
    "weather": ["grim", "lovely", "chaotic", "fine", "wild", "so-so"],
    "relative": ["mum", "dad", "aunt", "grandad", "brother", "sister"],
}

SPEAKERS = [
    "Priya",
    "Tomas",
    "Aiko",
    "Ravi",
    "Lena",
    "Marco",
    "Nadia",
    "Owen",
    "Jonas",
    "Clara",
    "Farid",
    "Greta",
    "Kwame",
    "Sofia",
    "Emeka",
    "Yuki",
]
