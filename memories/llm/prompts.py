"""Our prompts for the LLM calls, and the JSON schemas of the answers they ask for. Pure data."""

from memories.decisions import EVENTS
from memories.extraction import KINDS

# --------------------------------------------------------------------------------------------------
# Prompts (our own)

EXTRACTION_TASK = """\
You read a conversation between a user and an AI assistant and write down the facts worth \
remembering about the user for future conversations: preferences and dislikes, plans and goals, \
people in their life and their relation to them, biography (name, age, home, work, studies), \
possessions, habits and routines, health (allergies, diets, conditions), and corrections of \
something said before.

Rules:
- Each fact is one short, self-contained sentence in the third person that starts with "User" \
(for example "I love hiking with my dog" becomes "User loves hiking with their dog"). Never write \
"I", "me" or "my".
- Resolve relative dates ("yesterday", "last week", "next month") against the observation date \
given with the conversation and write the date itself.
- Keep the user's own details (names, places, numbers, product codes) exactly as written.
- Leave out greetings, small talk, questions and requests to the assistant, passing moods, and \
general knowledge that says nothing about the user.
- Take facts from the user's messages only. Assistant messages are context, not facts about the \
user.
- If nothing is worth remembering, return an empty list."""

AGENT_RULE = """\
- This memory belongs to the assistant (an agent): also keep what the assistant says about itself \
(its name, role, abilities, preferences, commitments), written as a sentence starting with \
"Assistant", with "role": "assistant"."""

EXTRACTION_FORMAT = """\
Answer with one JSON object and nothing else:
{"facts": [{"text": "User ...", "kind": "preference", "negated": false, "role": "user"}]}
"kind" is one of: preference, plan, relation, biography, possession, habit, correction, other. \
"negated" is true when the fact states that something is not or no longer so ("User no longer \
drinks coffee"). "role" is who said it: "user" or "assistant"."""

DECISION_TASK = """\
You keep a memory store about one user up to date. For each new fact you get the most similar \
memories the store already holds, each with a short numeric id. Decide, for each new fact, one event:
- "ADD": the fact is new information, not already held in any of the memories listed.
- "NONE": a listed memory already says the same thing (a duplicate or a paraphrase, nothing new).
- "UPDATE": a listed memory is about the same thing and stays true, and the new fact adds detail \
or precision ("User likes pizza" + "User likes pizza with mushrooms"). Give the merged, richer \
sentence as "text".
- "SUPERSEDE": a listed memory is no longer true because of the new fact: the user moved, changed \
job, stopped liking or doing something, a value changed ("User lives in Paris" then "User moved to \
Berlin"; "User likes coffee" then "User no longer drinks coffee"). The old memory is kept as history \
and the new fact replaces it; give the sentence to store as "text".
Memories marked "immutable": true may never be updated or superseded: choose ADD or NONE for them.
Use only the ids listed with that fact."""

DECISION_FORMAT = """\
Answer with one JSON object and nothing else:
{"decisions": [{"fact": 0, "event": "ADD" | "NONE" | "UPDATE" | "SUPERSEDE", "id": 3, "text": "...", "reason": "..."}]}
One entry per new fact, "fact" being its number. "id" is the memory updated, superseded or \
duplicated (null for ADD). "reason" says why, in a few words."""

RELATIONS_TASK = """\
You turn short texts about a user into a knowledge graph. For each text, list the relationships it \
states between two entities (people, places, organisations, things, topics) as triples: \
"source", "relationship", "destination". Use "user" for the user. Write the relationship in \
lower_snake_case ("lives_in", "works_at", "likes", "sister_of"). A text may state none.
Answer with one JSON object and nothing else:
{"relations": [{"text": 0, "source": "user", "relationship": "lives_in", "destination": "Berlin"}]}
where "text" is the number of the text the triple comes from."""

PROCEDURE_TASK = """\
You keep the working memory of an AI agent. The conversation below shows the agent carrying out a \
task. Write down how it was done, so that the agent can repeat or resume it later: first the goal, \
then each step in the order it happened, with what it used and what came of it (commands, tools, \
parameters, URLs, identifiers, results, errors and how they were handled). Keep names, values and \
identifiers exactly as written and add nothing the conversation does not say."""

PROCEDURE_FORMAT = """\
Answer with one JSON object and nothing else:
{"procedure": "Goal: ...\\n1. ...\\n2. ..."}"""


# --------------------------------------------------------------------------------------------------
# Answer schemas: the shapes the prompts describe, in the subset of JSON Schema that OpenAI's strict
# structured outputs accept (every property required, no others) and llama.cpp turns into a grammar.


def _object(**properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _list_of(field: str, item: dict) -> dict:
    return _object(**{field: {"type": "array", "items": item}})


_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}

FACTS_SCHEMA = _list_of(
    "facts",
    _object(
        text=_STRING,
        kind={"type": "string", "enum": list(KINDS)},
        negated={"type": "boolean"},
        role={"type": "string", "enum": ["user", "assistant"]},
    ),
)
DECISIONS_SCHEMA = _list_of(
    "decisions",
    _object(
        fact=_INTEGER,
        event={"type": "string", "enum": list(EVENTS)},
        id={"type": ["integer", "null"]},
        text=_STRING,
        reason=_STRING,
    ),
)
PROCEDURE_SCHEMA = _object(procedure=_STRING)
RELATIONS_SCHEMA = _list_of(
    "relations", _object(text=_INTEGER, source=_STRING, relationship=_STRING, destination=_STRING)
)
