"""The built-in (no-LLM) fact extractor behind add(infer=True): exact outputs for real-looking turns."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from memories.extraction import KINDS, Fact, Message, extract_facts, normalize_messages

# A Tuesday. Yesterday = 2026-03-09 (Monday), this week starts 2026-03-09, next Friday = 2026-03-13.
OBSERVED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def texts(messages, **options) -> list[str]:
    options.setdefault("observed_at", OBSERVED)
    return [fact.text for fact in extract_facts(normalize_messages(messages), **options)]


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


CONVERSATIONS = [
    # --- preferences
    ("love", "I love working with Python and AI", ["User loves working with Python and AI"]),
    ("diet", "I'm vegetarian.", ["User is vegetarian"]),
    ("negated-preference", "I don't like coffee anymore", ["User does not like coffee anymore"]),
    ("cannot-stand", "I can't stand horror movies", ["User cannot stand horror movies"]),
    ("favourite", "My favourite food is sushi", ["User's favourite food is sushi"]),
    ("favourite-object", "Sushi is my favorite food!", ["Sushi is User's favorite food"]),
    ("fan-of", "I'm a big fan of the Beatles", ["User is a big fan of the Beatles"]),
    ("call-me", "Call me Ana", ["User prefers to be called Ana"]),
    (
        "standing-instruction-to-assistant",
        "I want you to always answer in Spanish",
        ["User's standing instruction: always answer in Spanish"],
    ),
    # --- biography
    ("name", "My name is Ana", ["User's name is Ana"]),
    ("greeting-then-name", "Hi! I'm Ana.", ["User's name is Ana"]),
    (
        "two-clauses-own-subjects",
        "I live in Lisbon and I work at Acme",
        ["User lives in Lisbon", "User works at Acme"],
    ),
    (
        "shared-subject-stays-one-fact",
        "I live in Lisbon and work at Acme as a nurse",
        ["User lives in Lisbon and works at Acme as a nurse"],
    ),
    ("age-and-birthplace", "I'm 34 and I was born in Porto.", ["User is 34", "User was born in Porto"]),
    ("occupation", "I'm a nurse. I study at night.", ["User is a nurse", "User studies at night"]),
    ("nationality", "hi, i'm from brazil and i love football", ["User is from brazil", "User loves football"]),
    ("allergy", "Please remember that I'm allergic to peanuts", ["User is allergic to peanuts"]),
    (
        "subordinate-clause-moved-after",
        "When I was 10, I moved to Paris",
        ["User moved to Paris when they were 10"],
    ),
    ("hedged-about-self", "I think I'm lactose intolerant", ["User thinks they are lactose intolerant"]),
    (
        "languages",
        "I speak English, Portuguese and a bit of French",
        ["User speaks English, Portuguese and a bit of French"],
    ),
    # --- relations
    ("sister", "my sister Maria lives in Porto", ["User's sister Maria lives in Porto"]),
    ("compound-subject", "My wife and I live in Porto", ["User and their wife live in Porto"]),
    (
        "compound-subject-our",
        "My husband and I are celebrating our anniversary in two weeks",
        ["User and their husband are celebrating their anniversary on 2026-03-24"],
    ),
    ("negated-relation", "My sister doesn't eat meat", ["User's sister does not eat meat"]),
    (
        "relation-and-preference",
        "I like dogs but my wife prefers cats",
        ["User likes dogs", "User's wife prefers cats"],
    ),
    ("kids", "I'm married with two kids", ["User is married with two kids"]),
    ("embedded-me", "My mom lives with me", ["User's mom lives with User"]),
    # --- possessions and habits
    ("pet", "I have a dog named Rex.", ["User has a dog named Rex"]),
    ("adopted", "I just adopted a cat!", ["User just adopted a cat"]),
    ("habit-every-night", "I watch anime every night", ["User watches anime every night"]),
    ("habit-leading-time", "Every morning I run 5k before work", ["User runs 5k before work every morning"]),
    ("habit-leading-frequency", "Usually I skip breakfast", ["User usually skips breakfast"]),
    ("habit-weekday-plural", "I go to the gym on Mondays", ["User goes to the gym on Mondays"]),
    ("habit-never", "I never eat meat", ["User never eats meat"]),
    ("coordinated-verbs", "I play guitar and sing in a band", ["User plays guitar and sings in a band"]),
    # --- plans with dates
    ("plan-next-month", "I'm planning to visit Japan next month.", ["User is planning to visit Japan in April 2026"]),
    ("plan-leading-next-week", "Next week I'm flying to Tokyo", ["User is flying to Tokyo in the week of 2026-03-16"]),
    ("plan-weekday", "I have a dentist appointment on Friday", ["User has a dentist appointment on 2026-03-13"]),
    ("plan-in-two-weeks", "I'm going to Berlin in two weeks", ["User is going to Berlin on 2026-03-24"]),
    ("would-love-to", "I'd love to visit Japan someday", ["User would love to visit Japan someday"]),
    (
        "thinking-about",
        "I'm learning Spanish because I'm moving to Madrid",
        ["User is learning Spanish because they are moving to Madrid"],
    ),
    # --- past events with dates
    ("yesterday", "I went to Rome yesterday", ["User went to Rome on 2026-03-09"]),
    (
        "leading-last-week",
        "Last week I started a new job at Google.",
        ["User started a new job at Google in the week of 2026-03-02"],
    ),
    ("years-ago", "I got married 2 years ago", ["User got married in 2024"]),
    ("past-weekday", "I met my friend on Monday", ["User met their friend on 2026-03-09"]),
    (
        "two-years-two-clauses",
        "In 2019 I moved to Lisbon, and in 2021 I moved to Porto.",
        ["User moved to Lisbon in 2019", "User moved to Porto in 2021"],
    ),
    # --- corrections
    ("actually", "Actually, I moved to Berlin last year.", ["User moved to Berlin in 2025"]),
    ("i-meant-replaces-earlier", "I live in Porto. No, I meant Lisbon, not Porto.", ["User lives in Lisbon"]),
    ("not-tail-replaces-earlier", "I'm 34. Actually, I'm 35, not 34.", ["User is 35"]),
    # --- mixed conversation: greetings, questions and requests dropped, facts kept
    (
        "mixed-turn",
        "Hi there! I'm vegetarian, what should I cook tonight? Thanks!",
        ["User is vegetarian"],
    ),
    (
        "question-then-fact",
        "Can you help me plan a trip to Japan? I'm going there in April.",
        ["User is going to Japan in April"],
    ),
    (
        "multi-message",
        [
            user("Hello! I'm Ana and I live in Lisbon."),
            assistant("Nice to meet you, Ana! I recommend visiting Sintra."),
            user("I love hiking, and my sister Maria lives in Porto. Any trail ideas?"),
            {"role": "system", "content": "I am the system. My name is Bob."},
        ],
        ["User's name is Ana", "User lives in Lisbon", "User loves hiking", "User's sister Maria lives in Porto"],
    ),
    (
        "there-resolved-from-earlier-place",
        "I lived in New York City for ten years. I met my wife there.",
        ["User lived in New York City for ten years", "User met their wife in New York City"],
    ),
    ("duplicates-once", ["I love pizza. I love pizza!", "i love pizza lol"], ["User loves pizza"]),
    # --- nothing to extract
    ("greeting", "Hi! How are you?", []),
    ("hello-there", "Hello there", []),
    ("thanks", "thanks!", []),
    ("good-morning", "good morning :)", []),
    ("filler", "ok", []),
    ("filler-lol", "lol", []),
    ("filler-hmm", "hmm... sure", []),
    ("question", "What's my name?", []),
    ("question-do-you", "Do you know any good vegan restaurants?", []),
    ("request", "Can you recommend a good book?", []),
    ("request-please", "Please tell me a joke about my cat", []),
    ("request-imperative", "Tell me about my schedule", []),
    ("request-first-person", "I'd like some recipe ideas for dinner", []),
    ("request-to-know", "I want to know how to bake bread", []),
    ("world-fact", "The weather is nice today", []),
    ("world-fact-language", "Python is a language", []),
    ("about-someone-else", "She lives in Porto", []),
    ("opinion-not-about-user", "I think Python is great", []),
    ("pronoun-only", "I love it! I'll try that, thanks", []),
    ("transient-state", "I'm tired", []),
    ("phatic", "I see. I don't know.", []),
    ("thanks-with-my", "Thanks for your help with my essay!", []),
    ("assistant-without-agent-scope", [assistant("I will always answer in French. My name is Sage.")], []),
    ("system-message", [{"role": "system", "content": "I am vegetarian. My name is Bob."}], []),
    ("tool-message", [{"role": "tool", "content": "I live in Lisbon"}], []),
]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [pytest.param(messages, expected, id=case_id) for case_id, messages, expected in CONVERSATIONS],
)
def test_conversation_extracts_exact_facts(messages, expected):
    assert texts(messages) == expected


def test_table_covers_the_issue():
    assert len(CONVERSATIONS) >= 45
    assert sum(1 for _, _, expected in CONVERSATIONS if not expected) >= 12


# --- relative dates


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("I went to Rome yesterday", "User went to Rome on 2026-03-09"),
        ("I'm resting today", "User is resting on 2026-03-10"),
        ("I'm flying to Oslo tomorrow", "User is flying to Oslo on 2026-03-11"),
        ("I'm seeing the doctor the day after tomorrow", "User is seeing the doctor on 2026-03-12"),
        ("I visited my grandma last week", "User visited their grandma in the week of 2026-03-02"),
        ("I'm moving house next week", "User is moving house in the week of 2026-03-16"),
        ("I changed jobs last month", "User changed jobs in February 2026"),
        ("I'm starting a course next month", "User is starting a course in April 2026"),
        ("I graduated last year", "User graduated in 2025"),
        ("I'm retiring next year", "User is retiring in 2027"),
        ("I have a meeting on Monday", "User has a meeting on 2026-03-16"),
        ("I'm going hiking next Friday", "User is going hiking on 2026-03-13"),
        ("I saw a concert last Saturday", "User saw a concert on 2026-03-07"),
        ("I'm getting married in 3 days", "User is getting married on 2026-03-13"),
        ("I'm going to Berlin in two weeks", "User is going to Berlin on 2026-03-24"),
        ("I'm having surgery in 2 months", "User is having surgery in May 2026"),
        ("I moved to Lisbon three years ago", "User moved to Lisbon in 2023"),
        ("I started running 2 weeks ago", "User started running on 2026-02-24"),
        ("I'm visiting my parents next weekend", "User is visiting their parents on the weekend of 2026-03-21"),
        ("I have been sick since yesterday", "User has been sick since 2026-03-09"),
        ("Yesterday I adopted a puppy", "User adopted a puppy on 2026-03-09"),
        ("I swim every Monday", "User swims every Monday"),
    ],
)
def test_relative_dates_resolve_against_observed_at(content, expected):
    assert texts(content) == [expected]


def test_month_and_year_roll_over():
    december = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
    assert texts("I'm moving to Rome next month", observed_at=december) == ["User is moving to Rome in January 2027"]
    january = datetime(2027, 1, 5, tzinfo=UTC)
    assert texts("I quit my job last month", observed_at=january) == ["User quit their job in December 2026"]


def test_observed_at_local_date_is_used():
    # 23:30 in UTC-05:00 is already the next day in UTC; the observer's own date counts.
    evening = datetime(2026, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert texts("I went to Rome yesterday", observed_at=evening) == ["User went to Rome on 2026-03-09"]


# --- agent scope


def test_assistant_facts_only_with_agent_scope():
    messages = [
        user("Please always answer in French."),
        assistant("Sure! I will always answer in French. I recommend short answers. Would you like an example?"),
        assistant("My name is Sage and I was created to help with travel planning."),
        assistant("I don't have access to the internet, and I never share your data."),
    ]
    assert texts(messages) == []
    facts = extract_facts(normalize_messages(messages), observed_at=OBSERVED, agent_scoped=True)
    assert [(fact.text, fact.role) for fact in facts] == [
        ("Assistant will always answer in French", "assistant"),
        ("Assistant's name is Sage", "assistant"),
        ("Assistant was created to help with travel planning", "assistant"),
        ("Assistant does not have access to the internet", "assistant"),
        ("Assistant never shares the user's data", "assistant"),
    ]


def test_agent_scope_keeps_user_facts():
    messages = [user("I'm vegan."), assistant("I always suggest vegan recipes.")]
    facts = extract_facts(normalize_messages(messages), observed_at=OBSERVED, agent_scoped=True)
    assert [(fact.text, fact.role) for fact in facts] == [
        ("User is vegan", "user"),
        ("Assistant always suggests vegan recipes", "assistant"),
    ]


def test_assistant_small_talk_is_not_a_fact():
    messages = [assistant("Great question! I'm sorry, I can't do that. I can help you plan your trip. Here you go.")]
    assert texts(messages, agent_scoped=True) == []


# --- includes / excludes

TOPICS = "I love hiking. My sister Maria lives in Porto. I'm allergic to peanuts. I work at Acme as a nurse."


ALL_TOPICS = [
    "User loves hiking",
    "User's sister Maria lives in Porto",
    "User is allergic to peanuts",
    "User works at Acme as a nurse",
]


@pytest.mark.parametrize(
    ("includes", "excludes", "expected"),
    [
        (None, None, ALL_TOPICS),
        ("", " ", ALL_TOPICS),  # blank means no filter
        ("hikes", None, ["User loves hiking"]),  # stem prefix: hikes -> hik
        ("sister, peanut", None, ["User's sister Maria lives in Porto", "User is allergic to peanuts"]),
        ("PORTO", None, ["User's sister Maria lives in Porto"]),
        (None, "peanuts, acme", ["User loves hiking", "User's sister Maria lives in Porto"]),
        ("hiking, nurse", "acme", ["User loves hiking"]),
        ("user", None, []),  # the subject itself is not a topic
        ("chess", None, []),
    ],
)
def test_includes_and_excludes(includes, excludes, expected):
    assert texts(TOPICS, includes=includes, excludes=excludes) == expected


# --- kinds and negation


@pytest.mark.parametrize(
    ("content", "kind", "negated"),
    [
        ("I love Python", "preference", False),
        ("I'm vegetarian", "preference", False),
        ("I don't like coffee anymore", "preference", True),
        ("I'm planning to visit Japan next month", "plan", False),
        ("I have a meeting on Friday", "plan", False),
        ("My sister Maria lives in Porto", "relation", False),
        ("My name is Ana", "biography", False),
        ("I'm 34", "biography", False),
        ("I work as a nurse", "biography", False),
        ("I'm allergic to peanuts", "biography", False),
        ("I have a dog named Rex", "possession", False),
        ("I bought a new car last month", "possession", False),
        ("I usually drink tea in the morning", "habit", False),
        ("I never eat breakfast", "habit", True),
        ("Actually, I live in Porto", "correction", False),
        ("I went to Rome yesterday", "other", False),
        ("I have never been to Japan", "other", True),
    ],
)
def test_kind_and_negation(content, kind, negated):
    [fact] = extract_facts(normalize_messages(content), observed_at=OBSERVED)
    assert (fact.kind, fact.negated) == (kind, negated)
    assert fact.kind in KINDS


def test_fact_carries_role_and_is_frozen():
    [fact] = extract_facts([Message("user", "I'm vegan")], observed_at=OBSERVED)
    assert fact == Fact(text="User is vegan", role="user", kind="preference", negated=False)
    with pytest.raises(AttributeError):
        fact.text = "changed"


def test_extraction_is_deterministic_and_ordered():
    content = "I live in Lisbon. I love hiking and I have two cats. My brother is a chef."
    first = extract_facts(normalize_messages(content), observed_at=OBSERVED)
    assert first == extract_facts(normalize_messages(content), observed_at=OBSERVED)
    assert [fact.text for fact in first] == [
        "User lives in Lisbon",
        "User loves hiking",
        "User has two cats",
        "User's brother is a chef",
    ]


# --- normalize_messages


def test_normalize_accepts_a_string():
    assert normalize_messages("I love tea") == [Message(role="user", content="I love tea")]


def test_normalize_accepts_a_dict_with_name():
    assert normalize_messages({"role": "User", "content": "hi", "name": "ana"}) == [
        Message(role="user", content="hi", name="ana")
    ]


def test_normalize_accepts_a_mixed_list():
    assert normalize_messages(["hi", {"role": "assistant", "content": "hello"}, Message("user", "x")]) == [
        Message(role="user", content="hi"),
        Message(role="assistant", content="hello"),
        Message(role="user", content="x"),
    ]


def test_normalize_joins_text_parts_and_skips_other_parts():
    content = [
        {"type": "text", "text": "I live in Lisbon."},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": "I love surfing"},
    ]
    [message] = normalize_messages([{"role": "user", "content": content}])
    assert message.content == "I live in Lisbon.\nI love surfing"
    # The image is a reference (memories.attachments), captioned by the message's text.
    [image] = message.attachments
    assert (image.kind, image.url, image.caption) == (
        "image",
        "https://example.com/a.png",
        "I live in Lisbon. I love surfing",
    )
    assert texts([{"role": "user", "content": content}]) == ["User lives in Lisbon", "User loves surfing"]


def test_normalize_accepts_an_empty_list():
    assert normalize_messages([]) == []


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (None, "messages must be a string, a message dict or a list of them, got null"),
        (42, "messages must be a string, a message dict or a list of them, got int"),
        ({"content": "hi"}, "messages is missing 'role'"),
        ({"role": "user"}, "messages is missing 'content'"),
        ({"role": "", "content": "hi"}, "messages.role must not be empty"),
        ({"role": 1, "content": "hi"}, "messages.role must be a string, got int"),
        (
            {"role": "user", "content": None},
            "messages.content must be a string, a content part or a list of parts, got null",
        ),
        (
            {"role": "user", "content": 5},
            "messages.content must be a string, a content part or a list of parts, got int",
        ),
        ({"role": "user", "content": "hi", "name": 3}, "messages.name must be a string or null, got int"),
        (["hi", 7], "messages[1] must be a string or a dict with 'role' and 'content', got int"),
        (
            [{"role": "user", "content": [{"type": "text", "text": None}]}],
            "messages[0].content[0].text must be a string",
        ),
        ([{"role": "user", "content": [3]}], "messages[0].content[0] must be a dict"),
    ],
)
def test_normalize_refuses_bad_input(messages, error):
    with pytest.raises(ValueError) as excinfo:
        normalize_messages(messages)
    assert str(excinfo.value).startswith(error)
