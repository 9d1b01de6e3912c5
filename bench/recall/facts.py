"""The fact bank of the recall harness: life events a speaker mentions once.

Each `FactType` is one kind of event with slots filled per conversation. It knows
how the speaker says it (`say`, several wordings), how a user later asks for it by
name (`ask`, `{who}` is a name or, for multi-hop questions, a descriptor from
another fact), how they ask without any of its words (`para`: checked mechanically
by `lexicon.disjoint`), how another fact refers to its speaker (`desc`), the past
tense used by temporal questions (`past`), and `distract`: turns by other speakers
that share its topic words but not its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FactType:
    name: str
    slots: dict[str, list[str]]
    say: list[str]
    ask: str
    para: str
    desc: str
    past: str
    distract: list[str] = field(default_factory=list)


CITIES = ["Porto", "Tallinn", "Osaka", "Hobart", "Quebec", "Nairobi", "Valparaiso", "Bergen"]

FACTS: list[FactType] = [
    FactType(
        "move",
        {"city": CITIES},
        [
            "we signed the lease, moving to {city} at the end of the month",
            "big news: I'm relocating to {city} for good",
        ],
        "Which city did {who} move to?",
        "Where has that household gone to live permanently?",
        "the person who moved to {city}",
        "moved to {city}",
        ["my cousin keeps talking about moving but never does", "the city traffic was awful"],
    ),
    FactType(
        "dog",
        {"breed": ["beagle", "corgi", "greyhound", "dachshund", "samoyed", "whippet"]},
        [
            "we adopted a {breed} puppy from the shelter this weekend",
            "meet our new {breed}, picked him up from the rescue today",
        ],
        "What breed of dog did {who} adopt?",
        "Which canine companion joined somebody's family recently?",
        "the person who adopted a {breed}",
        "adopted a {breed}",
        ["the neighbour's dog barked all night again", "a puppy video made my day"],
    ),
    FactType(
        "instrument",
        {"instrument": ["cello", "banjo", "clarinet", "ukulele", "harp", "trombone"]},
        [
            "started {instrument} lessons, my teacher says I practise too little",
            "bought a second-hand {instrument} and booked lessons",
        ],
        "What instrument is {who} learning?",
        "Which musical hobby has one of us taken up?",
        "the person learning the {instrument}",
        "started learning the {instrument}",
        ["the concert last night was too loud", "lessons at school start early"],
    ),
    FactType(
        "allergy",
        {"food": ["peanuts", "shellfish", "sesame", "kiwi", "mustard", "celery"]},
        [
            "the doctor confirmed it, I'm allergic to {food}",
            "turns out my rash was {food}, the allergist tested me",
        ],
        "What is {who} allergic to?",
        "Which ingredient triggers an adverse bodily response for someone here?",
        "the person allergic to {food}",
        "found out about the {food} allergy",
        ["the doctor was running late today", "my hay fever is back"],
    ),
    FactType(
        "job",
        {"company": ["Globex", "Initech", "Hooli", "Vandelay", "Tyrell", "Soylent"]},
        [
            "accepted the offer from {company}, I start as a team lead",
            "handed in my notice, joining {company} next month",
        ],
        "Which company did {who} join?",
        "Who is the new employer somebody signed a contract with?",
        "the person who joined {company}",
        "joined {company}",
        ["my manager wants the report by noon", "the offer on strawberries ended"],
    ),
    FactType(
        "car",
        {"car": ["Volvo estate", "Fiat Panda", "Skoda Octavia", "Mazda roadster"]},
        [
            "sold the old hatchback and bought a {car}",
            "picked up my {car} from the dealer, it smells brand new",
        ],
        "What car model did {who} buy?",
        "Which vehicle did one of us purchase?",
        "the person who bought a {car}",
        "bought a {car}",
        ["the bus was late so I walked", "my bike tyre went flat"],
    ),
    FactType(
        "marathon",
        {"race": ["Berlin", "Chicago", "Rotterdam", "Lisbon", "Boston"]},
        [
            "finished the {race} marathon in just under four hours",
            "crossed the finish line in {race}, my legs are jelly",
        ],
        "Which marathon did {who} run?",
        "Where did somebody complete a 42 km footrace?",
        "the person who ran the {race} marathon",
        "ran the {race} marathon",
        ["I ran for the train and missed it", "my legs hurt after the gym"],
    ),
    FactType(
        "surgery",
        {"part": ["knee", "shoulder", "wrist", "ankle", "hip"]},
        [
            "the {part} operation went fine, I'm on crutches for a while",
            "home from hospital, the surgeons fixed my {part}",
        ],
        "Which body part did {who} have surgery on?",
        "What joint got repaired in a medical procedure?",
        "the person who had {part} surgery",
        "had {part} surgery",
        ["the hospital car park costs a fortune", "I bumped my head on the shelf"],
    ),
    FactType(
        "garden",
        {"crop": ["tomatoes", "pumpkins", "courgettes", "strawberries", "chillies"]},
        [
            "the allotment is finally ours, planting {crop} first",
            "dug new beds in the garden for {crop}",
        ],
        "What is {who} growing in the garden?",
        "Which produce is being cultivated at somebody's plot?",
        "the person growing {crop}",
        "planted {crop}",
        ["the garden centre was closed", "I forgot to water the houseplants"],
    ),
    FactType(
        "wedding",
        {"venue": ["a barn", "a lighthouse", "a vineyard", "a castle", "a boathouse"]},
        [
            "we got married last Saturday at {venue}, still glowing",
            "the wedding at {venue} was perfect, thanks for coming",
        ],
        "Where did {who} get married?",
        "What was the setting of somebody's nuptials?",
        "the person who married at {venue}",
        "got married at {venue}",
        ["the invitation design took ages", "another wedding show on TV"],
    ),
    FactType(
        "book",
        {"genre": ["a cookbook", "a crime novel", "a children's book", "a travel guide"]},
        [
            "my publisher said yes, I'm writing {genre}",
            "signed the contract to write {genre}, deadline in autumn",
        ],
        "What kind of book is {who} writing?",
        "Which manuscript has someone agreed to author for a press?",
        "the person writing {genre}",
        "got the book deal",
        ["I can't finish the novel I borrowed", "the library fines add up"],
    ),
    FactType(
        "language",
        {"lang": ["Japanese", "Portuguese", "Finnish", "Swahili", "Greek"]},
        [
            "enrolled in evening classes for {lang}, the grammar is brutal",
            "practising {lang} every morning with an app and a tutor",
        ],
        "Which language is {who} studying?",
        "What foreign tongue does one of us attend night courses for?",
        "the person studying {lang}",
        "began studying {lang}",
        ["the grammar checker flagged my email", "classes at the gym are full"],
    ),
    FactType(
        "baby",
        {"child": ["Mila", "Theo", "Ada", "Otto", "Iris", "Leo"]},
        [
            "our daughter {child} arrived at dawn, mother and baby are well",
            "welcome {child}, born this morning, we're exhausted and happy",
        ],
        "What did {who} name the baby?",
        "What is the name given to somebody's infant?",
        "the person whose baby {child} was born",
        "had a baby",
        ["the baby next door cries at night", "I slept badly this morning"],
    ),
    FactType(
        "house",
        {"room": ["kitchen", "bathroom", "attic", "basement"]},
        [
            "the builders start ripping out the {room} on Monday",
            "renovating the {room}, dust everywhere and no budget left",
        ],
        "Which room is {who} renovating?",
        "What part of someone's home is being remodelled?",
        "the person renovating the {room}",
        "started renovating the {room}",
        ["the kitchen timer broke", "dust allergies are the worst"],
    ),
    FactType(
        "pet_loss",
        {"pet": ["cat", "rabbit", "parrot", "tortoise"]},
        [
            "our old {pet} passed away in her sleep, the house feels empty",
            "we buried the {pet} under the apple tree today",
        ],
        "Which pet did {who} lose?",
        "What animal companion died recently at somebody's place?",
        "the person whose {pet} died",
        "lost the {pet}",
        ["a cat sat on my car again", "the apple harvest was poor"],
    ),
    FactType(
        "degree",
        {"field": ["nursing", "architecture", "statistics", "law", "geology"]},
        [
            "graduated today, my {field} degree is done",
            "passed my final {field} exams, the diploma comes by post",
        ],
        "What did {who} graduate in?",
        "Which academic discipline has someone completed qualifications for?",
        "the person who graduated in {field}",
        "graduated",
        ["exams season makes the trains crowded", "the post office lost a parcel"],
    ),
    FactType(
        "trip",
        {"place": ["Iceland", "Patagonia", "Morocco", "Vietnam", "Norway"]},
        [
            "flights booked, two weeks of hiking in {place} in May",
            "back from {place}, the hiking was unreal",
        ],
        "Where did {who} go hiking?",
        "Which country did somebody trek across on holiday?",
        "the person who hiked in {place}",
        "went hiking in {place}",
        ["flight prices are ridiculous", "my hiking boots fell apart"],
    ),
    FactType(
        "diet",
        {"diet": ["vegan", "vegetarian", "pescatarian", "keto"]},
        [
            "I've gone fully {diet} since the documentary",
            "sticking to a {diet} diet for three months now",
        ],
        "Which diet did {who} switch to?",
        "What eating regime has one of us adopted lately?",
        "the person who went {diet}",
        "went {diet}",
        ["the documentary about whales was slow", "diet soda is overrated"],
    ),
    FactType(
        "bike",
        {"bike": ["cargo bike", "tandem", "road bike", "folding bike"]},
        [
            "someone stole my {bike} from outside the station",
            "the police rang, my stolen {bike} turned up nowhere",
        ],
        "What got stolen from {who}?",
        "Which two-wheeled possession vanished through theft?",
        "the person whose {bike} was stolen",
        "had the {bike} stolen",
        ["the station café closed early", "the police helicopter woke us"],
    ),
    FactType(
        "team",
        {"sport": ["volleyball", "curling", "rugby", "water polo", "handball"]},
        [
            "joined the local {sport} club, training is twice a week",
            "our {sport} team won the regional cup, first time ever",
        ],
        "Which sport does {who} play in a club?",
        "What athletic squad does somebody compete for?",
        "the person who plays {sport}",
        "joined the {sport} club",
        ["the club sandwich was soggy", "training sessions at work are dull"],
    ),
    FactType(
        "flat_flood",
        {"cause": ["burst pipe", "broken washing machine", "leaking roof"]},
        [
            "a {cause} flooded the flat, the floorboards are ruined",
            "water everywhere this morning, a {cause} soaked the floor",
        ],
        "What flooded {who}'s flat?",
        "Which household failure caused damage to somebody's apartment?",
        "the person whose flat was flooded",
        "had the flat flooded",
        ["the floor at the office got new carpet", "morning water tastes odd here"],
    ),
    FactType(
        "award",
        {"prize": ["a photography prize", "a teaching award", "a poetry prize"]},
        [
            "I won {prize}, they called me on stage and I nearly cried",
            "can't believe it, {prize} for my work this year",
        ],
        "What award did {who} win?",
        "Which honour was given to one of us?",
        "the person who won {prize}",
        "won {prize}",
        ["the stage lights were too bright", "work this year was a blur"],
    ),
    FactType(
        "volunteer",
        {"place": ["a food bank", "an animal shelter", "a hospice", "a library"]},
        [
            "started volunteering at {place} on Sundays",
            "signed up for Sunday shifts at {place}, helping out",
        ],
        "Where does {who} volunteer?",
        "Which charitable organisation gets unpaid assistance from someone weekly?",
        "the person volunteering at {place}",
        "started volunteering",
        ["Sundays are for sleeping in", "the shelter from the rain was tiny"],
    ),
    FactType(
        "eyes",
        {"fix": ["laser eye surgery", "new glasses", "contact lenses"]},
        [
            "got {fix} this week, I can read the street signs again",
            "my eyesight was getting bad so I got {fix}",
        ],
        "What did {who} do about the eyesight?",
        "How has somebody corrected blurry vision?",
        "the person who got {fix}",
        "got {fix}",
        ["street signs here are confusing", "I read the whole week's news"],
    ),
]
