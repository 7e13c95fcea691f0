"""Generate corpus.txt: a synthetic, structured English-like text for ternary training.

Everything here is invented by this script from small word lists written for llmbench, so
the output is free to redistribute. The generator is deterministic (fixed seed, only
Python's `random.Random`), so `python make_corpus.py` rewrites the committed file
byte for byte. Paragraphs are separated by one blank line; the harness splits the corpus
into training and validation paragraphs.

The grammar mixes a few paragraph kinds (village tales, weather notes, market ledgers,
short dialogues, travel logs) so that a small character-level model has regularities to
learn at several ranges: spelling, agreement (a/an, plural verbs), punctuation, and
recurring paragraph shapes.
"""
from __future__ import annotations

import random
from pathlib import Path

SEED = 20240611
TARGET_BYTES = 180_000
OUT = Path(__file__).with_name("corpus.txt")

NAMES = [
    "Ada", "Bram", "Cora", "Dov", "Elin", "Fenn", "Greta", "Hugo", "Isla", "Joss",
    "Kira", "Lars", "Mira", "Nils", "Oona", "Pell", "Runa", "Sami", "Tova", "Ulf",
    "Vera", "Wim", "Yara", "Zeno",
]
ROLES = [
    "miller", "weaver", "baker", "ferryman", "shepherd", "potter", "smith", "fisher",
    "carpenter", "healer", "teacher", "beekeeper", "clockmaker", "gardener", "sailor",
]
ANIMALS = [
    "fox", "heron", "goat", "owl", "otter", "crow", "hare", "badger", "swan", "wolf",
    "lamb", "eagle", "mole", "raven", "deer",
]
THINGS = [
    "lantern", "basket", "kettle", "rope", "ladder", "map", "bell", "cart", "blanket",
    "knife", "jar", "drum", "coat", "key", "oar", "umbrella", "apron", "anchor",
]
PLACES = [
    "the river", "the old bridge", "the mill", "the market square", "the harbour",
    "the north field", "the forest edge", "the chapel", "the orchard", "the well",
    "the hill road", "the quarry", "the inn", "the island", "the salt marsh",
]
TOWNS = ["Ashford", "Brindle", "Carrow", "Dunmere", "Elmstead", "Fallow", "Greyhaven", "Holt"]
ADJS = [
    "old", "quiet", "small", "heavy", "bright", "broken", "green", "cold", "tall",
    "red", "wooden", "empty", "narrow", "gentle", "strange", "warm", "ancient", "wet",
]
COLOURS = ["grey", "white", "brown", "black", "golden", "blue", "silver", "pale"]
WEATHER = [
    "rain", "fog", "snow", "wind", "sunshine", "hail", "drizzle", "frost", "thunder",
]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
GOODS = [
    ("apples", "basket"), ("flour", "sack"), ("wool", "bale"), ("salt", "jar"),
    ("honey", "pot"), ("fish", "crate"), ("cheese", "wheel"), ("candles", "box"),
    ("nails", "bag"), ("cloth", "roll"), ("eggs", "dozen"), ("barley", "sack"),
]
# verb: (past tense, third person present, -ing form)
VERBS_T = {
    "carry": ("carried", "carries", "carrying"), "find": ("found", "finds", "finding"),
    "mend": ("mended", "mends", "mending"), "paint": ("painted", "paints", "painting"),
    "sell": ("sold", "sells", "selling"), "hide": ("hid", "hides", "hiding"),
    "clean": ("cleaned", "cleans", "cleaning"), "lose": ("lost", "loses", "losing"),
    "borrow": ("borrowed", "borrows", "borrowing"), "open": ("opened", "opens", "opening"),
    "lift": ("lifted", "lifts", "lifting"), "buy": ("bought", "buys", "buying"),
}
VERBS_MOVE = {
    "walk": "walked", "run": "ran", "row": "rowed", "ride": "rode", "climb": "climbed",
    "hurry": "hurried", "wander": "wandered", "limp": "limped",
}
VERBS_SEE = ["saw", "heard", "noticed", "watched", "followed", "greeted", "fed", "counted"]
FEELINGS = ["tired", "glad", "worried", "hungry", "curious", "proud", "sleepy", "cheerful"]
TIMES = [
    "at dawn", "in the morning", "before noon", "after lunch", "in the evening",
    "at dusk", "late at night", "on market day",
]
UNTIL = ["dawn", "noon", "lunch", "the evening", "dusk", "midnight", "the next day"]
NUM_WORDS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "eleven", "twelve",
]


def article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def plural(word: str) -> str:
    if word in ("deer", "fish"):
        return word
    if word.endswith(("x", "sh", "ch")):
        return word + "es"
    if word.endswith("f"):
        return word[:-1] + "ves"
    return word + "s"


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


class Writer:
    def __init__(self, rng: random.Random):
        self.r = rng

    def c(self, seq):
        return self.r.choice(seq)

    def person(self) -> str:
        if self.r.random() < 0.6:
            return self.c(NAMES)
        return "the " + self.c(ADJS) + " " + self.c(ROLES)

    def thing(self) -> str:
        if self.r.random() < 0.5:
            return "the " + self.c(THINGS)
        return article(self.c(ADJS) + " " + self.c(THINGS))

    def animal(self) -> str:
        return article(self.c(COLOURS) + " " + self.c(ANIMALS))

    def tale_sentence(self, subj: str, obj: str) -> str:
        k = self.r.randrange(7)
        if k == 0:
            return f"{cap(subj)} {VERBS_MOVE[self.c(list(VERBS_MOVE))]} to {self.c(PLACES)} {self.c(TIMES)}."
        if k == 1:
            return f"On the way, {subj} {self.c(VERBS_SEE)} {self.animal()} near {self.c(PLACES)}."
        if k == 2:
            v = self.c(list(VERBS_T))
            return f"{cap(subj)} {VERBS_T[v][0]} {self.thing()} and felt {self.c(FEELINGS)}."
        if k == 3:
            return f"The {self.c(WEATHER)} kept {obj} inside until {self.c(UNTIL)}."
        if k == 4:
            n = self.r.randrange(2, 13)
            return f"By {self.c(PLACES)}, {subj} counted {NUM_WORDS[n]} {plural(self.c(ANIMALS))}."
        if k == 5:
            other = self.c(NAMES)
            v = self.c(list(VERBS_T))
            return f"{other} asked {obj} to {v} {self.thing()}, and {subj} agreed."
        how = self.c(["slowly", "carefully", "with a song", "in silence", "all day"])
        return f"Because the road was {self.c(ADJS)}, {subj} {VERBS_MOVE[self.c(list(VERBS_MOVE))]} {how}."

    def tale(self) -> str:
        hero = self.c(NAMES)
        role = self.c(ROLES)
        town = self.c(TOWNS)
        she = hero[-1] in "aeu"
        first = f"Once, in {town}, there lived {article(role)} called {hero}."
        body = []
        for _ in range(self.r.randrange(3, 7)):
            if self.r.random() < 0.5:
                body.append(self.tale_sentence(hero, hero))
            else:
                body.append(self.tale_sentence("she" if she else "he", "her" if she else "him"))
        body = [cap(s) for s in body]
        end = self.c([
            f"In the end, {hero} went home and slept.",
            f"Nobody in {town} forgot that day.",
            f"And that is why the {plural(role)} of {town} still laugh about it.",
            f"The next morning, {hero} told the whole story at {self.c(PLACES)}.",
        ])
        return " ".join([first, *body, end])

    def weather(self) -> str:
        day = self.r.randrange(1, 29)
        month = self.c(MONTHS)
        town = self.c(TOWNS)
        lines = [f"Weather note, {self.c(DAYS)} {day} {month}, {town}."]
        for _ in range(self.r.randrange(2, 5)):
            w = self.c(WEATHER)
            t = self.c(TIMES)
            temp = self.r.randrange(-5, 31)
            lines.append(f"{cap(t)} there was {w}; the air was {temp} degrees.")
        lines.append(self.c([
            "The boats stayed in the harbour.",
            "The children played by the well.",
            "The roads were muddy and slow.",
            "The farmers were pleased.",
            f"The {plural(self.c(ANIMALS))} stayed hidden.",
        ]))
        return " ".join(lines)

    def ledger(self) -> str:
        who = self.c(NAMES)
        town = self.c(TOWNS)
        lines = [f"Ledger of {who}, {self.c(ROLES)} of {town}:"]
        total = 0
        for _ in range(self.r.randrange(3, 7)):
            good, unit = self.c(GOODS)
            n = self.r.randrange(1, 10)
            price = self.r.randrange(2, 40)
            total += n * price
            units = unit if n == 1 or unit == "dozen" else plural(unit)
            lines.append(f"- {n} {units} of {good} at {price} coins each, {n * price} coins.")
        lines.append(f"Total: {total} coins.")
        return "\n".join(lines)

    def dialogue(self) -> str:
        speaker, other = self.r.sample(NAMES, 2)
        out = []
        for _ in range(self.r.randrange(3, 6)):
            k = self.r.randrange(5)
            if k == 0:
                out.append(f'"Have you seen {self.thing()}?" asked {speaker}.')
            elif k == 1:
                out.append(f'"I left it at {self.c(PLACES)}," said {speaker}.')
            elif k == 2:
                out.append(f'"The {self.c(WEATHER)} will come {self.c(TIMES)}," said {speaker}.')
            elif k == 3:
                out.append(f'"Then we must hurry," said {speaker}, and {other} nodded.')
            else:
                out.append(f'"Why is the {self.c(ANIMALS)} so {self.c(FEELINGS)}, {other}?" asked {speaker}.')
            speaker, other = other, speaker
        return "\n".join(out)

    def travel(self) -> str:
        towns = self.r.sample(TOWNS, self.r.randrange(3, 6))
        who = self.c(NAMES)
        parts = [f"Travel log of {who}."]
        for i in range(len(towns) - 1):
            miles = self.r.randrange(3, 60)
            how = self.c(["on foot", "by cart", "by boat", "on horseback"])
            parts.append(f"Day {NUM_WORDS[i + 1]}: from {towns[i]} to {towns[i + 1]}, {miles} miles {how}.")
        parts.append(f"{who} reached {towns[-1]} and rested at the inn.")
        return " ".join(parts)

    def paragraph(self) -> str:
        kind = self.r.choices(
            [self.tale, self.weather, self.ledger, self.dialogue, self.travel],
            weights=[5, 2, 2, 3, 2],
        )[0]
        return kind()


def build(seed: int = SEED, target_bytes: int = TARGET_BYTES) -> str:
    w = Writer(random.Random(seed))
    seen: set[str] = set()
    paras: list[str] = []
    size = 0
    while size < target_bytes:
        p = w.paragraph()
        if p in seen:  # unique paragraphs, so a paragraph-level split cannot overlap
            continue
        seen.add(p)
        paras.append(p)
        size += len(p) + 2
    return "\n\n".join(paras) + "\n"


if __name__ == "__main__":
    text = build()
    assert text.isascii()
    OUT.write_text(text, encoding="ascii")
    print(f"wrote {OUT} ({len(text)} bytes, {text.count(chr(10) * 2) + 1} paragraphs)")
