"""Synthetic data and figures for the benchmarks: personal facts and questions like the ones Mem0
extracts and answers, how rows spread over users, and latency summaries. Pure: no Django.

Used by ``manage.py bench`` (``memories/bench/in_process.py``), its load mode
(``memories/bench/http_load.py``) and the graph benchmark (``graph/bench.py``).
"""

import random
import re
import statistics

import numpy


def _items(text: str) -> list[str]:
    return text.split(", ")


VOCABULARY: dict[str, list[str]] = {
    "name": _items(
        "Alice, Maya, Jonas, Priya, Tomás, Ingrid, Kenji, Fatima, Oliver, Chloé, Mateo, Aisha, Lars, Sofia, "
        "Ravi, Hannah, Diego, Yuki, Amara, Felix, Noor, Elena, Kwame, Lucia, Anders, Mei, Samuel, Zara, Pavel, "
        "Leila, Marco, Greta, Tariq, Nina, Hugo, Olga, Dev, Camille, Emeka, Rosa"
    ),
    "relation": _items(
        "sister, brother, cousin, aunt, uncle, niece, nephew, grandmother, grandfather, mother, father, son, "
        "daughter, stepbrother, stepsister, godmother"
    ),
    "city": _items(
        "Berlin, Lisbon, Osaka, Toronto, Nairobi, Buenos Aires, Melbourne, Oslo, Seattle, Marseille, Krakow, "
        "Hanoi, Cape Town, Edinburgh, Montreal, Valencia, Austin, Seoul, Istanbul, Reykjavik, Porto, Bologna, "
        "Denver, Mumbai, Lyon, Tallinn, Kyoto, Dublin, Santiago, Vienna, Helsinki, Chicago, Zurich, Athens, "
        "Bangkok, Ljubljana"
    ),
    "country": _items(
        "Portugal, Japan, Canada, Kenya, Argentina, Norway, Vietnam, Chile, Iceland, Greece, Mexico, Peru, "
        "Morocco, New Zealand, Scotland, Italy, Spain, Thailand, Poland, Croatia"
    ),
    "landmark": _items(
        "old harbour, botanical garden, street markets, cathedral, night food stalls, modern art museum, "
        "hiking trails, jazz bars, castle, river cruise, hot springs, bookshops"
    ),
    "place_kind": _items("the central park, the university, the train station, the beach, the old town, a lake"),
    "food": _items(
        "mushrooms, olives, cilantro, eggplant, blue cheese, oysters, liver, anchovies, beetroot, coconut, "
        "tofu, brussels sprouts, okra, licorice"
    ),
    "allergen": _items("peanuts, shellfish, gluten, lactose, tree nuts, eggs, soy, sesame, strawberries"),
    "cuisine": _items(
        "Thai, Italian, Japanese, Mexican, Ethiopian, Lebanese, Korean, Indian, Peruvian, Greek, Vietnamese, "
        "Georgian, Turkish, Spanish, French"
    ),
    "dish": _items(
        "pad thai, risotto, ramen, tacos al pastor, injera with lentils, falafel, bibimbap, butter chicken, "
        "ceviche, moussaka, pho, khachapuri, paella, lasagne, sushi, shakshuka, dumplings, "
        "mushroom stroganoff, fish and chips, lentil soup"
    ),
    "breakfast": _items(
        "oatmeal with berries, scrambled eggs on toast, a croissant, yogurt with granola, a smoothie, "
        "miso soup and rice, pancakes, avocado toast, nothing at all"
    ),
    "drink": _items("black coffee, green tea, espresso, chai, oat milk lattes, sparkling water, matcha"),
    "music_genre": _items(
        "jazz, techno, folk, classical music, hip-hop, reggae, metal, blues, bossa nova, indie rock, k-pop, ambient"
    ),
    "book_genre": _items("science fiction, crime, historical, fantasy, romance, literary, horror, mystery"),
    "color": _items("green, navy blue, burgundy, yellow, teal, orange, lavender, black"),
    "job": _items(
        "nurse, software engineer, architect, high school teacher, accountant, chef, pharmacist, "
        "graphic designer, civil engineer, journalist, dentist, electrician, data analyst, veterinarian, "
        "lawyer, firefighter, product manager, librarian, physiotherapist, pilot"
    ),
    "company": _items(
        "a small design studio, a hospital, a logistics startup, the city council, a bank, a game studio, "
        "a bakery, a law firm, a university lab, an airline, a solar energy company, a public school, "
        "a consulting firm, a local newspaper"
    ),
    "subject": _items(
        "marine biology, economics, mechanical engineering, art history, computer science, nursing, "
        "philosophy, statistics, architecture, linguistics"
    ),
    "school": _items("university, summer camp, a night class, work, the climbing gym, a book club, school"),
    "instrument": _items("guitar, piano, cello, drums, violin, saxophone, ukulele, trumpet, bass"),
    "sport": _items(
        "running, swimming, cycling, rock climbing, yoga, tennis, bouldering, rowing, hiking, surfing, skiing, boxing"
    ),
    "hobby": _items(
        "pottery, woodworking, birdwatching, knitting, photography, gardening, chess, baking bread, "
        "watercolour painting, calligraphy, home brewing, origami"
    ),
    "collectible": _items("vinyl records, vintage postcards, fountain pens, board games, stamps, old maps"),
    "race": _items("half marathon, triathlon, 10k race, marathon, cycling sportive"),
    "pet": _items("dog, cat, parrot, rabbit, tortoise, golden retriever, border collie, hamster"),
    "pet_name": _items("Biscuit, Luna, Pepper, Milo, Nala, Ziggy, Mochi, Rocky, Olive, Pixel, Bean, Tofu"),
    "month": _items("January, February, March, April, May, June, July, August, September, October, November, December"),
    "weekday": _items("Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"),
    "language": _items(
        "Spanish, Japanese, German, Portuguese, Mandarin, French, Arabic, Italian, Korean, Swahili, Dutch"
    ),
    "purchase": _items("new bike, house deposit, electric car, trip around Asia, new laptop, sailing boat"),
    "appointment": _items("dentist, doctor, eye test, hairdresser, physiotherapy, vet"),
    "condition": _items("asthma, type 1 diabetes, migraines, high blood pressure, hay fever, a bad knee"),
    "vice": _items("sugar, caffeine, screen time, alcohol, takeaway food"),
    "transport": _items("train, bus, bike, tram, ferry"),
    "seat": _items("window, aisle"),
}

# (topic, template): the topic becomes the memory's category and metadata.
TEMPLATES: list[tuple[str, str]] = [
    ("preferences", "Prefers {drink} over {drink2} in the morning"),
    ("preferences", "Likes listening to {music_genre} while working"),
    ("preferences", "Favourite colour is {color}"),
    ("preferences", "Enjoys reading {book_genre} novels before bed"),
    ("preferences", "Always books {seat} seats on long flights"),
    ("preferences", "Would rather take the {transport} than drive to work"),
    ("food", "Dislikes {food} and avoids it whenever possible"),
    ("food", "Loves {cuisine} food, especially {dish}"),
    ("food", "Is allergic to {allergen}"),
    ("food", "Has been vegetarian since {year}"),
    ("food", "Usually eats {breakfast} for breakfast"),
    ("food", "Cooks {dish} for the family every {weekday}"),
    ("food", "Favourite restaurant is a {cuisine} place in {city}"),
    ("places", "Lives in {city} with their partner"),
    ("places", "Grew up in {city2} before moving to {city}"),
    ("places", "Visited {city} in {month} {year} and loved the {landmark}"),
    ("places", "Has an apartment near {place_kind} in {city}"),
    ("places", "Spent a semester abroad in {country}"),
    ("people", "Has a {relation} named {name} who lives in {city}"),
    ("people", "Their {relation} {name} works as a {job}"),
    ("people", "Best friend is {name}, whom they met at {school}"),
    ("people", "Has been married to {name} since {year}"),
    ("people", "Their manager at work is called {name}"),
    ("work", "Works as a {job} at {company}"),
    ("work", "Started a new job as a {job} in {month} {year}"),
    ("work", "Used to be a {job} before retraining as a {job2}"),
    ("work", "Works from home every {weekday}"),
    ("work", "Is studying {subject} part-time"),
    ("hobbies", "Plays the {instrument} in a local band"),
    ("hobbies", "Goes {sport} every {weekday} morning"),
    ("hobbies", "Collects {collectible}"),
    ("hobbies", "Took up {hobby} in {year}"),
    ("hobbies", "Is training for a {race} in {city}"),
    ("hobbies", "Has a {pet} called {pet_name}"),
    ("plans", "Plans to visit {city} in {month}"),
    ("plans", "Wants to learn {language} before the trip to {country}"),
    ("plans", "Is saving up for a {purchase}"),
    ("plans", "Has a {appointment} appointment next {weekday}"),
    ("plans", "Is thinking about adopting a {pet}"),
    ("plans", "Hopes to run a {race} in {year}"),
    ("dates", "Birthday is on {month} {day}"),
    ("dates", "Wedding anniversary is on {month} {day}"),
    ("dates", "Their {relation}'s birthday is on {month} {day}"),
    ("dates", "Moved to {city} on {month} {day}, {year}"),
    ("health", "Has {condition} and takes medication for it"),
    ("health", "Sleeps about {hours} hours a night"),
    ("health", "Is trying to cut down on {vice}"),
    ("languages", "Speaks {language} fluently and a little {language2}"),
]

# Half the facts carry one of these, as extracted facts often say when or from whom they came.
SUFFIXES: list[str] = [
    ", as of {month} {year}",
    ", mentioned in a chat on a {weekday}",
    ", according to their {relation} {name}",
    ", which came up during a trip to {city}",
    ", said while talking about {hobby}",
    " (noted in {month})",
]

QUESTIONS: list[str] = [
    "what food does the user like?",
    "what does the user usually eat for breakfast?",
    "is the user allergic to anything?",
    "what kind of cuisine does the user enjoy?",
    "does the user eat meat?",
    "where does the user live?",
    "where did the user grow up?",
    "which cities has the user travelled to?",
    "who are the user's family members?",
    "who is the user married to?",
    "who is the user's best friend?",
    "what does the user do for a living?",
    "where does the user work?",
    "what is the user studying?",
    "what are the user's hobbies?",
    "what instrument does the user play?",
    "what sports does the user do?",
    "does the user have any pets?",
    "what are the user's plans for next month?",
    "is the user planning a trip soon?",
    "what is the user saving money for?",
    "when is the user's birthday?",
    "when is the user's wedding anniversary?",
    "what music does the user listen to?",
    "what books does the user like to read?",
    "does the user prefer coffee or tea?",
    "what is the user's favourite colour?",
    "which languages does the user speak?",
    "does the user have any health conditions?",
    "how much does the user sleep?",
    "how does the user get to work?",
    "when did the user move to their current city?",
    "what is the user training for?",
    "what does the user collect?",
    "does the user have any appointments coming up?",
    "does the user like {dish}?",
    "has the user ever been to {city}?",
    "who is {name}?",
    "does the user know anyone who works as a {job}?",
]

_SLOT = re.compile(r"\{(\w+)\}")


_ARTICLE = re.compile(r"\ba (?=[aeioAEIO])")


def _fill(template: str, rng: random.Random) -> str:
    used: dict[str, set[str]] = {}

    def value(match: re.Match) -> str:
        slot = match.group(1)
        if slot == "year":
            return str(rng.randint(1995, 2026))
        if slot == "day":
            return str(rng.randint(1, 28))
        if slot == "hours":
            return str(rng.choice([5, 6, 7, 8, 9]))
        base = slot.rstrip("2")
        taken = used.setdefault(base, set())
        word = rng.choice(VOCABULARY[base])
        while word in taken:  # "{city2} ... {city}": two different cities
            word = rng.choice(VOCABULARY[base])
        taken.add(word)
        return word

    return _ARTICLE.sub("an ", _SLOT.sub(value, template))


def synthetic_fact(rng: random.Random) -> tuple[str, str]:
    """A (topic, sentence) pair like the facts Mem0 extracts from a conversation."""
    topic, template = rng.choice(TEMPLATES)
    if rng.random() < 0.5:
        template += rng.choice(SUFFIXES)
    return topic, _fill(template, rng)


def synthetic_question(rng: random.Random) -> str:
    return _fill(rng.choice(QUESTIONS), rng)


def zipf_counts(n: int, users: int, exponent: float) -> list[int]:
    """How many of ``n`` rows each of ``users`` owns, heaviest first: everyone gets one (when
    ``n >= users``) and the rest is shared in proportion to 1/rank**exponent."""
    floor = 1 if n >= users else 0
    weights = [1.0 / (rank**exponent) for rank in range(1, users + 1)]
    total = sum(weights)
    spare = n - floor * users
    shares = [spare * weight / total for weight in weights]
    counts = [floor + int(share) for share in shares]
    # Hand out what rounding down left over to the largest remainders.
    by_remainder = sorted(range(users), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    p50, p95, p99 = numpy.percentile(values, [50, 95, 99])
    return {
        "count": len(values),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "mean": round(statistics.fmean(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


class StderrForTqdm:
    """tqdm redraws with carriage returns; Django's OutputWrapper would add a newline to each."""

    def __init__(self, out):
        self._out = out

    def write(self, text: str) -> None:
        self._out.write(text, style_func=lambda x: x, ending="")

    def flush(self) -> None:
        self._out.flush()
