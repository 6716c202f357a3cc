"""The built-in extractor keeps what people say (issue 14): named and plural subjects, lead-ins,
facts inside questions, elided subjects, places/dates/numbers kept, pointers resolved or the fact
dropped, "you" never "the assistant", assistant restatements; and what must NOT be extracted."""

from datetime import UTC, datetime

import pytest

from memories.extraction import extract_facts, normalize_messages

# A Tuesday: yesterday 2026-03-09, Friday 2026-03-13, last spring = spring 2025.
OBSERVED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def texts(messages, **options) -> list[str]:
    options.setdefault("observed_at", OBSERVED)
    return [fact.text for fact in extract_facts(normalize_messages(messages), **options)]


def said(content: str, name: str | None = None, role: str = "user") -> list[dict]:
    return [{"role": role, "content": content} | ({"name": name} if name else {})]


KEPT = [
    # --- subjects: the message's name, "we"/"our", compounds
    ("we", said("We adopted a rescue greyhound"), ["User and family adopted a rescue greyhound"]),
    ("we-named", said("We adopted a rescue greyhound", "Melanie"), ["Melanie and family adopted a rescue greyhound"]),
    (
        "our-named",
        said("Our one-year-old is so cute, his name is Kyle!", "Melanie"),
        ["Melanie's one-year-old is so cute, his name is Kyle"],
    ),
    ("our", said("Our daughter started school in September"), ["User's daughter started school in September"]),
    (
        "we-couple",
        said("We got married last June", "Caroline"),
        ["Caroline and their partner got married in June 2025"],
    ),
    ("we-couple-lead-in", said("Big news: we got engaged!", "Jon"), ["Jon and their partner got engaged"]),
    ("named", said("I'm researching adoption agencies", "Caroline"), ["Caroline is researching adoption agencies"]),
    ("named-compound", said("My wife and I live in Porto", "Pedro"), ["Pedro and their wife live in Porto"]),
    (
        "named-after-greeting",
        said("Hey Mel! I'm researching adoption agencies.", "Caroline"),
        ["Caroline is researching adoption agencies"],
    ),
    ("name-not-a-name", said("I live in Oslo", "alice_42"), ["User lives in Oslo"]),
    ("name-reserved", said("I live in Oslo", "assistant"), ["User lives in Oslo"]),
    ("named-call-me", said("Call me Annie", "Anna"), ["Anna prefers to be called Annie"]),
    (
        "me-and-brother",
        said("Me and my brother opened a bakery in Leeds"),
        ["User and their brother opened a bakery in Leeds"],
    ),
    # --- lead-ins
    ("heads-up", said("Quick heads up: I'm allergic to shellfish"), ["User is allergic to shellfish"]),
    ("fun-fact-dash", said("Fun fact - I speak four languages"), ["User speaks four languages"]),
    ("update-colon", said("Update: my sister moved to Rome"), ["User's sister moved to Rome"]),
    # --- facts inside questions
    (
        "since-question",
        said("Since I'm lactose intolerant, what can I use instead of milk?"),
        ["User is lactose intolerant"],
    ),
    ("because-question", said("Because I work nights, when should I go to the gym?"), ["User works nights"]),
    (
        "statement-then-question",
        said("I have a golden retriever, how often should I walk him?"),
        ["User has a golden retriever"],
    ),
    ("any-tips", said("I'm visiting Kyoto in April, any tips?"), ["User is visiting Kyoto in April"]),
    # --- elided subjects
    ("cannot-stand", said("Can't stand cilantro"), ["User cannot stand cilantro"]),
    (
        "worked-on",
        said("Had a tough time with my car project. Worked on the engine of the vintage Mustang", "John"),
        ["John worked on the engine of the vintage Mustang"],
    ),
    ("just-finished", said("Just finished my first marathon!"), ["User just finished their first marathon"]),
    (
        "working-on",
        said("Working on a new painting of a sunset", "Melanie"),
        ["Melanie is working on a new painting of a sunset"],
    ),
    (
        "been-learning",
        said("Been learning Portuguese for two years"),
        ["User has been learning Portuguese for two years"],
    ),
    (
        "gonna",
        said("Gonna visit my parents in Ohio next weekend"),
        ["User is going to visit their parents in Ohio on the weekend of 2026-03-21"],
    ),
    # --- places, dates, names and numbers stay in the fact
    ("place-and-season", said("We moved to Lisbon last spring"), ["User and family moved to Lisbon in spring 2025"]),
    ("numbers-and-date", said("I ran 10 km in 52 minutes yesterday"), ["User ran 10 km in 52 minutes on 2026-03-09"]),
    ("weekday", said("I'm flying to Tokyo on Friday"), ["User is flying to Tokyo on 2026-03-13"]),
    ("name-and-age", said("My son Leo turns 7 next month"), ["User's son Leo turns 7 in April 2026"]),
    ("count", said("I've been to Peru three times"), ["User has been to Peru three times"]),
    ("next-season", said("I'm moving to Berlin next summer"), ["User is moving to Berlin in summer 2026"]),
    ("last-month-name", said("I started a new job last January"), ["User started a new job in January 2026"]),
    # --- pointers: resolved from the message or earlier turns of the add
    (
        "there-same-message",
        said("I went to Paris last year. I loved it there!"),
        ["User went to Paris in 2025", "User loved it in Paris"],
    ),
    (
        "there-previous-turn",
        [
            {"role": "user", "content": "I went to Kyoto in April"},
            {"role": "user", "content": "I want to go there again next year"},
        ],
        ["User went to Kyoto in April", "User wants to go to Kyoto again in 2027"],
    ),
    (
        "one-with-antecedent",
        said("I'm thinking about adopting a dog. I'd love to get one soon"),
        ["User is thinking about adopting a dog"],
    ),
    # --- "you": the other named speaker, or the fact is dropped
    (
        "you-other-speaker",
        [
            {"role": "user", "name": "Caroline", "content": "Hey Mel! I'm so proud of you."},
            {"role": "user", "name": "Melanie", "content": "Thanks! I'll send you the photos of my pottery tomorrow"},
        ],
        ["Caroline is so proud of Melanie", "Melanie will send Caroline the photos of their pottery on 2026-03-11"],
    ),
    (
        "standing-instruction",
        said("I want you to always answer in Spanish"),
        ["User's standing instruction: always answer in Spanish"],
    ),
    ("vocative-you", said("Thanks, Melanie! I'm so proud of you.", "Caroline"), ["Caroline is so proud of Melanie"]),
    # --- a named speaker's other content-bearing statements are kept as said
    (
        "said-named",
        said("The transgender stories were so inspiring!", "Caroline"),
        ["Caroline said: The transgender stories were so inspiring"],
    ),
    ("said-needs-a-name", said("The transgender stories were so inspiring!"), []),
    ("said-not-a-pointer", said("It's a great way to relax after a long day", "Melanie"), []),
    ("said-not-a-truism", said("Taking care of ourselves is so important", "Melanie"), []),
    # --- assistant turns: only restatements of the user; agent-scoped adds keep the agent's facts
    (
        "assistant-restates",
        said("You mentioned you're allergic to peanuts, so I left them out.", role="assistant"),
        ["User is allergic to peanuts"],
    ),
    ("assistant-since-you", said("Since you're vegan, here are three recipes.", role="assistant"), ["User is vegan"]),
    (
        "assistant-restates-named-user",
        [
            {"role": "user", "name": "Ana", "content": "Any dinner ideas?"},
            {
                "role": "assistant",
                "content": "Since you're vegan, try a lentil curry. You told me your sister is visiting.",
            },
        ],
        ["Ana is vegan", "Ana's sister is visiting"],
    ),
    # --- change-bearing statements stay whole
    ("quit", said("I quit smoking last year"), ["User quit smoking in 2025"]),
    ("not-anymore", said("I'm not vegetarian anymore"), ["User is not vegetarian anymore"]),
    ("sold", said("I sold my car"), ["User sold their car"]),
    ("dont-have-anymore", said("I don't have a dog anymore"), ["User does not have a dog anymore"]),
    ("no-longer-bare-verb", said("I no longer meditate"), ["User no longer meditates"]),
    ("bare-habit", said("I smoke"), ["User smokes"]),
    ("do-yoga", said("I do yoga"), ["User does yoga"]),
    (
        "used-to-but-now",
        said("I used to live in Rome but now I live in Milan"),
        ["User used to live in Rome", "User lives in Milan now"],
    ),
]

DROPPED = [
    # small talk, questions without facts, fragments, "you" with nobody to name
    "Hi there!",
    "How are you doing today?",
    "Thanks so much, that's really helpful!",
    "lol yeah",
    "What's the weather like in Paris?",
    "Can you recommend a good book?",
    "I'll be honest",
    "I'm good, thanks",
    "Sounds great!",
    "That's awesome, congrats!",
    "I think so too",
    "Wow, that looks amazing!",
    "I can't wait!",
    "I know, right?",
    "Good night!",
    "Really? Tell me more",
    "I was wondering about that",
    "Love it!",
    "Okay, let's do it",
    "I'm not sure",
    "Take care!",
    "Have a great weekend!",
    "I see what you mean",
    "Yes please",
    "Me too!",
    "Excited to see you!",
    "That's a good question",
    "Glad you liked it!",
    "What do you think about that?",
    "Same here",
    "No worries at all",
    "Let me know if you need anything",
    "I'm going there in April",
    "I'm obsessed with those",
    "I bought it yesterday",
    "I'll send you the photos tomorrow",
    "I'm so proud of you",
    "Totally agree, Mel. Relaxing and expressing ourselves is key.",
]


@pytest.mark.parametrize(("messages", "expected"), [pytest.param(m, e, id=i) for i, m, e in KEPT])
def test_keeps_what_people_say(messages, expected):
    assert texts(messages) == expected


@pytest.mark.parametrize("content", DROPPED)
def test_drops_small_talk_questions_and_fragments(content):
    assert texts(said(content)) == []
    assert texts(said(content, "Caroline")) == []


@pytest.mark.parametrize(
    "content",
    ["I recommend trying the lentil soup.", "Paris is the capital of France.", "Hello! How can I help you today?"],
)
def test_assistant_turns_give_nothing_unless_they_restate_the_user(content):
    assert texts(said(content, role="assistant")) == []


def test_agent_scoped_adds_keep_the_agents_facts():
    messages = said("Hi! I am a travel assistant. I speak French and I love maps.", role="assistant")
    assert texts(messages, agent_scoped=True) == [
        "Assistant is a travel assistant",
        "Assistant speaks French",
        "Assistant loves maps",
    ]


def test_never_the_assistant_and_speakers_stay_apart():
    conversation = [
        {"role": "user", "name": "Caroline", "content": "I went to a support group yesterday. Have you tried pottery?"},
        {"role": "user", "name": "Melanie", "content": "I love pottery! I made a bowl for you last week."},
        {"role": "user", "content": "Can you help me? I'll let you know how it goes."},
    ]
    found = texts(conversation)
    assert all("assistant" not in text.lower() for text in found)
    assert "Caroline went to a support group on 2026-03-09" in found
    assert "Melanie loves pottery" in found
    assert not any(text.startswith("User") for text in found[:2])


SHORT_CHATS = [
    ["Hi!", "I'm Ana and I live in Lisbon.", "How's the weather there today?", "Thanks!"],
    ["Hey, quick question", "Since I'm vegan, what should I cook tonight?", "Sounds good, thank you!"],
    ["Good morning", "We adopted a puppy last week!", "Any training tips?", "lol ok", "Bye!"],
    ["hello", "Can you recommend a book?", "I love sci-fi, especially Le Guin", "cool, thanks"],
    ["Hi there", "Quick heads up: I'm allergic to shellfish", "What's a good dinner idea?", "Perfect!"],
    ["yo", "Had a rough week. Started a new job at Globex on Monday", "How do I deal with stress?", "ok"],
    ["Hey", "I don't have a car anymore", "Is the bus good in Porto?", "Great, thanks!"],
    ["Hi", "My sister moved to Rome", "What should I see when I visit her?", "Awesome"],
]


def test_short_chats_with_small_talk_give_real_facts_only():
    """The noise target: of the memories extracted from short chats with small talk and questions,
    at least 95% are real facts (here, every one is one of the statements)."""
    facts = []
    for chat in SHORT_CHATS:
        facts += texts([{"role": "user", "content": line} for line in chat])
    real = {
        "User's name is Ana",
        "User lives in Lisbon",
        "User is vegan",
        "User and family adopted a puppy in the week of 2026-03-02",
        "User loves sci-fi, especially Le Guin",
        "User is allergic to shellfish",
        "User started a new job at Globex on 2026-03-09",
        "User does not have a car anymore",
        "User's sister moved to Rome",
    }
    assert facts and sum(text in real for text in facts) / len(facts) >= 0.95, facts
    assert len(facts) >= 8, facts
