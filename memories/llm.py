"""Fact extraction and update decisions through an OpenAI-compatible LLM (when ``LLM_BASE_URL`` is set).

Three calls, each one chat completion with our own prompts and the answer's JSON schema:

- :func:`llm_extract_facts`: a conversation -> self-contained third-person facts (the same
  :class:`~memories.extraction.Fact` objects the built-in extractor makes);
- :func:`llm_decide`: each new fact and the most similar memories its scope already holds -> ADD,
  UPDATE, SUPERSEDE or NONE (the same :class:`~memories.decisions.Decision` objects as the built-in
  decision);
- :func:`llm_extract_relations`: texts -> (source, relationship, destination) triples.

Failures split in two. The LLM not answering (timeout, connection refused, 5xx, 429) is retried
``LLM_MAX_RETRIES`` times and then raises :class:`~mem0g_site.exceptions.LLMUnavailable` (503),
before anything is written; a refusal (401 bad key, 404 unknown model) raises it at once. An answer
that is not what we asked for (not JSON, the wrong shape) is logged and read as "nothing": no facts,
ADD for every fact, no relations. The model's word is checked in code, not only in the prompt: a
memory id it invents or an immutable memory it wants to change turns the decision into ADD.

The schema constrains the answer where the server can (see :func:`_response_format`): OpenAI's
structured outputs (``json_schema``) first; a server that refuses them (HTTP 400, 422 or 5xx naming
the response format) is asked with the schema inside JSON mode (llama-cpp-python's server), and then in
plain JSON mode, and remembered. The prompts describe the same shape for servers that ignore it.

No ORM here: plain data in, plain data out.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings

from mem0g_site.exceptions import LLMUnavailable
from memories.decisions import EVENTS, Candidate, Decision
from memories.extraction import KINDS, Fact, Message
from memories.procedural import message_text

__all__ = [
    "RESPONSE_FORMATS",
    "llm_decide",
    "llm_enabled",
    "llm_extract_facts",
    "llm_extract_relations",
    "response_format_for",
]

logger = logging.getLogger("mem0g.llm")

# How much of a malformed answer goes into the log line.
_LOG_CHARS = 500
# Pause before retry n (1-based): 0.2 s, 0.4 s, 0.8 s, ... capped at 2 s.
_BACKOFF_SECONDS = 0.2
_BACKOFF_MAX_SECONDS = 2.0
_RETRYABLE_STATUS = frozenset({408, 409, 429})


def llm_enabled() -> bool:
    """True when an LLM endpoint is configured (``LLM_BASE_URL``)."""
    return bool(settings.LLM_BASE_URL)


# --------------------------------------------------------------------------------------------------
# Prompts (our own)

_EXTRACTION_TASK = """\
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

_AGENT_RULE = """\
- This memory belongs to the assistant (an agent): also keep what the assistant says about itself \
(its name, role, abilities, preferences, commitments), written as a sentence starting with \
"Assistant", with "role": "assistant"."""

_EXTRACTION_FORMAT = """\
Answer with one JSON object and nothing else:
{"facts": [{"text": "User ...", "kind": "preference", "negated": false, "role": "user"}]}
"kind" is one of: preference, plan, relation, biography, possession, habit, correction, other. \
"negated" is true when the fact states that something is not or no longer so ("User no longer \
drinks coffee"). "role" is who said it: "user" or "assistant"."""

_DECISION_TASK = """\
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

_DECISION_FORMAT = """\
Answer with one JSON object and nothing else:
{"decisions": [{"fact": 0, "event": "ADD" | "NONE" | "UPDATE" | "SUPERSEDE", "id": 3, "text": "...", "reason": "..."}]}
One entry per new fact, "fact" being its number. "id" is the memory updated, superseded or \
duplicated (null for ADD). "reason" says why, in a few words."""

_RELATIONS_TASK = """\
You turn short texts about a user into a knowledge graph. For each text, list the relationships it \
states between two entities (people, places, organisations, things, topics) as triples: \
"source", "relationship", "destination". Use "user" for the user. Write the relationship in \
lower_snake_case ("lives_in", "works_at", "likes", "sister_of"). A text may state none.
Answer with one JSON object and nothing else:
{"relations": [{"text": 0, "source": "user", "relationship": "lives_in", "destination": "Berlin"}]}
where "text" is the number of the text the triple comes from."""

_PROCEDURE_TASK = """\
You keep the working memory of an AI agent. The conversation below shows the agent carrying out a \
task. Write down how it was done, so that the agent can repeat or resume it later: first the goal, \
then each step in the order it happened, with what it used and what came of it (commands, tools, \
parameters, URLs, identifiers, results, errors and how they were handled). Keep names, values and \
identifiers exactly as written and add nothing the conversation does not say."""

_PROCEDURE_FORMAT = """\
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

_FACTS_SCHEMA = _list_of(
    "facts",
    _object(
        text=_STRING,
        kind={"type": "string", "enum": list(KINDS)},
        negated={"type": "boolean"},
        role={"type": "string", "enum": ["user", "assistant"]},
    ),
)
_DECISIONS_SCHEMA = _list_of(
    "decisions",
    _object(
        fact=_INTEGER,
        event={"type": "string", "enum": list(EVENTS)},
        id={"type": ["integer", "null"]},
        text=_STRING,
        reason=_STRING,
    ),
)
_PROCEDURE_SCHEMA = _object(procedure=_STRING)
_RELATIONS_SCHEMA = _list_of(
    "relations", _object(text=_INTEGER, source=_STRING, relationship=_STRING, destination=_STRING)
)


# --------------------------------------------------------------------------------------------------
# Public calls


def llm_extract_facts(
    messages: list[Message],
    *,
    observed_at: datetime,
    agent_scoped: bool,
    prompt: str | None = None,
    custom_instructions: str | None = None,
    includes: str | None = None,
    excludes: str | None = None,
) -> list[Fact]:
    """The facts the model finds in ``messages``, in its order, each text once.

    ``prompt`` replaces our description of the task (Mem0's custom fact-extraction prompt; our
    answer format is still appended); ``custom_instructions``, ``includes`` and ``excludes`` are
    added to it. A conversation with nothing the user (or, agent-scoped, the assistant) said makes
    no call.
    """
    conversation = [
        message for message in messages if message.role in ("user", "assistant") and message.content.strip()
    ]
    sources = {"user", "assistant"} if agent_scoped else {"user"}
    if not any(message.role in sources for message in conversation):
        return []

    system = [prompt.strip() if prompt and prompt.strip() else _EXTRACTION_TASK]
    if agent_scoped:
        system.append(_AGENT_RULE)
    if custom_instructions and custom_instructions.strip():
        system.append("Instructions from the application (follow them):\n" + custom_instructions.strip())
    if includes and includes.strip():
        system.append(f"Only keep facts about: {includes.strip()}.")
    if excludes and excludes.strip():
        system.append(f"Never keep facts about: {excludes.strip()}.")
    system.append(_EXTRACTION_FORMAT)

    lines = [f"Observation date: {observed_at.date().isoformat()} ({observed_at.strftime('%A')})", "", "Conversation:"]
    for message in conversation:
        speaker = message.role if not message.name else f"{message.role} ({message.name})"
        lines.append(f"{speaker}: {message.content.strip()}")

    answer = _chat("extraction", "\n\n".join(system), "\n".join(lines), schema=_FACTS_SCHEMA)
    items = _list_field(answer, "facts", "extraction")
    facts: list[Fact] = []
    seen: set[str] = set()
    for item in items:
        fact = _fact_of(item, sources)
        if fact is None:
            continue
        if fact.text in seen:
            continue
        seen.add(fact.text)
        facts.append(fact)
    return facts


def llm_procedure(messages: list[Message], *, prompt: str | None = None) -> str | None:
    """The model's summary of how the agent carried out the task of ``messages`` (a procedural
    memory), or None when it gave none (the caller falls back to the conversation's own words).
    ``prompt`` replaces our description of the task; our answer format is still appended."""
    conversation = [(message, message_text(message)) for message in messages if message.role != "system"]
    conversation = [(message, text) for message, text in conversation if text]
    if not conversation:
        return None
    system = [prompt.strip() if prompt and prompt.strip() else _PROCEDURE_TASK, _PROCEDURE_FORMAT]
    lines = ["Conversation:"]
    for message, text in conversation:
        speaker = message.role if not message.name else f"{message.role} ({message.name})"
        lines.append(f"{speaker}: {text}")
    answer = _chat("procedure", "\n\n".join(system), "\n".join(lines), schema=_PROCEDURE_SCHEMA)
    procedure = answer.get("procedure") if isinstance(answer, dict) else None
    if not isinstance(procedure, str) or not procedure.strip():
        _log_malformed("procedure", json.dumps(answer)[:200], "no 'procedure' text")
        return None
    return procedure.strip()


def llm_decide(facts: list[Fact], candidates: list[list[Candidate]]) -> list[Decision]:
    """One decision per fact (same order), given each fact's most similar current memories.

    Facts without candidates are ADD, and facts a candidate states in the same words NONE, without
    asking. Checked in code, whatever the model says: an UPDATE, SUPERSEDE or NONE must name one of
    that fact's candidates, UPDATE/SUPERSEDE never an immutable one, and no memory is changed by two
    facts of the same call (the earlier fact keeps it); otherwise the fact is ADDed (a fact is never
    dropped on the model's unverifiable word).
    """
    if len(facts) != len(candidates):
        raise ValueError("llm_decide needs one candidate list per fact")
    decisions = [
        Decision(event="ADD", text=fact.text, reason={"rule": "new", "detail": "no similar current memory"})
        for fact in facts
    ]
    asked = []
    for index, (new, options) in enumerate(zip(facts, candidates, strict=True)):
        same = next((option for option in options if _same_text(option.text, new.text)), None)
        if same is not None:  # said before in the same words: no need to ask
            reason = {"rule": "same-words", "detail": "a candidate says it in the same words"}
            decisions[index] = Decision(
                event="NONE", text=new.text, target_id=same.id, reason={**reason, "similarity": round(same.score, 4)}
            )
        elif options:
            asked.append(index)
    if not asked:
        return decisions

    # Short integer aliases instead of UUIDs: fewer tokens, nothing for the model to mistype.
    alias_of: dict[str, int] = {}
    by_alias: dict[int, Candidate] = {}
    payload = []
    for number, index in enumerate(asked):
        existing = []
        for candidate in candidates[index]:
            alias = alias_of.setdefault(candidate.id, len(alias_of) + 1)
            by_alias[alias] = candidate
            shown = {"id": alias, "text": candidate.text}
            if candidate.immutable:
                shown["immutable"] = True
            existing.append(shown)
        payload.append({"fact": number, "text": facts[index].text, "existing": existing})

    answer = _chat(
        "decision",
        f"{_DECISION_TASK}\n\n{_DECISION_FORMAT}",
        json.dumps({"new_facts": payload}, ensure_ascii=False, indent=1),
        schema=_DECISIONS_SCHEMA,
    )
    answered: dict[int, dict] = {}
    for item in _list_field(answer, "decisions", "decision"):
        if not isinstance(item, dict):
            continue
        number = _int_of(item.get("fact"))
        if number is not None and 0 <= number < len(asked):
            answered.setdefault(number, item)  # answered twice for one fact: the first word counts
    changed: set[str] = set()
    for number, index in enumerate(asked):
        if number not in answered:
            continue
        decision = _decision_of(answered[number], facts[index], candidates[index], by_alias)
        if decision.event in ("UPDATE", "SUPERSEDE"):
            if decision.target_id in changed:
                why = "the model aimed a second change at a memory changed by an earlier fact: added"
                decision = Decision(event="ADD", text=facts[index].text, reason={"rule": "llm-repeat", "detail": why})
            else:
                changed.add(decision.target_id)
        decisions[index] = decision
    return decisions


def llm_extract_relations(texts: list[str]) -> list[list[tuple[str, str, str]]]:
    """Per text, the (source, relationship, destination) triples the model finds; relationship in
    lower_snake_case. Blank texts make no call."""
    relations: list[list[tuple[str, str, str]]] = [[] for _ in texts]
    asked = [index for index, text in enumerate(texts) if isinstance(text, str) and text.strip()]
    if not asked:
        return relations
    payload = [{"text": number, "content": texts[index].strip()} for number, index in enumerate(asked)]
    answer = _chat(
        "relations",
        _RELATIONS_TASK,
        json.dumps({"texts": payload}, ensure_ascii=False, indent=1),
        schema=_RELATIONS_SCHEMA,
    )
    for item in _list_field(answer, "relations", "relations"):
        if not isinstance(item, dict):
            continue
        number = _int_of(item.get("text"))
        source, destination = _clean_text(item.get("source")), _clean_text(item.get("destination"))
        relationship = _snake_case(item.get("relationship"))
        if number is None or not 0 <= number < len(asked) or not (source and relationship and destination):
            continue
        triple = (source, relationship, destination)
        bucket = relations[asked[number]]
        if triple not in bucket:
            bucket.append(triple)
    return relations


# --------------------------------------------------------------------------------------------------
# Reading the model's answers


def _fact_of(item: Any, sources: set[str]) -> Fact | None:
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        return None
    text = _clean_text(item.get("text") or item.get("fact"))
    if not text:
        return None
    text = text[: settings.MEMORY_MAX_CHARS]
    role = item.get("role")
    role = role.strip().lower() if isinstance(role, str) and role.strip() else "user"
    if role not in ("user", "assistant"):
        role = "user"
    if role not in sources:
        return None
    kind = item.get("kind")
    kind = kind.strip().lower() if isinstance(kind, str) else "other"
    negated = item.get("negated")
    return Fact(text=text, role=role, kind=kind if kind in KINDS else "other", negated=negated is True)


def _decision_of(item: dict, fact: Fact, options: Sequence[Candidate], by_alias: dict[int, Candidate]) -> Decision:
    event = item.get("event")
    event = event.strip().upper() if isinstance(event, str) else ""
    said = _clean_text(item.get("reason"))[:300]
    if event not in EVENTS or event == "ADD":
        why = said or ("the model answered ADD" if event == "ADD" else f"the model answered {event or 'nothing'}")
        return Decision(event="ADD", text=fact.text, reason={"rule": "llm", "detail": why})
    alias = _int_of(item.get("id"))
    target = by_alias.get(alias) if alias is not None else None
    if target is None or all(option.id != target.id for option in options):
        # An id the model made up, or one listed for another fact.
        why = f"the model answered {event} with an id that is not one of this fact's candidates: added"
        return Decision(event="ADD", text=fact.text, reason={"rule": "llm-invalid", "detail": why})
    reason = {"rule": "llm", "detail": said or f"the model answered {event}", "similarity": round(target.score, 4)}
    if event == "NONE":
        return Decision(event="NONE", text=fact.text, target_id=target.id, reason=reason)
    if target.immutable:
        why = f"the model answered {event} for an immutable memory: added beside it"
        return Decision(event="ADD", text=fact.text, reason={"rule": "immutable", "detail": why})
    text = _clean_text(item.get("text"))
    text = text[: settings.MEMORY_MAX_CHARS] if text else fact.text
    return Decision(event=event, text=text, target_id=target.id, reason=reason)


def _list_field(answer: Any, field: str, purpose: str) -> list:
    if answer is None:
        return []
    if isinstance(answer, dict) and isinstance(answer.get(field), list):
        return answer[field]
    if isinstance(answer, list):  # the bare list, without the wrapping object
        return answer
    _log_malformed(purpose, json.dumps(answer, ensure_ascii=False), f"no {field!r} list")
    return []


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold().rstrip(".") == " ".join(b.split()).casefold().rstrip(".")


def _int_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("#").isdigit():
        return int(value.strip().lstrip("#"))
    return None


def _clean_text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _snake_case(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    value = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", value.strip())
    return _NOT_WORD.sub("_", value.lower()).strip("_")


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def _parse_json(raw: str) -> Any:
    """The JSON value in ``raw``; tolerates a Markdown code fence or prose around one object."""
    text = _FENCE.sub("", raw.strip())
    try:
        return json.loads(text)
    except ValueError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    raise ValueError("not JSON")


def _log_malformed(purpose: str, raw: str, why: str) -> None:
    shown = raw if len(raw) <= _LOG_CHARS else raw[:_LOG_CHARS] + "..."
    logger.warning("LLM %s answer ignored (%s): %r", purpose, why, shown)


# --------------------------------------------------------------------------------------------------
# The call


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def _client():
    """One OpenAI client per configuration (tests switch endpoints); it keeps its connections."""
    from openai import OpenAI

    key = (settings.LLM_BASE_URL, settings.LLM_API_KEY, float(settings.LLM_TIMEOUT_SECONDS))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = OpenAI(
                base_url=settings.LLM_BASE_URL,
                # Local servers (Ollama, vLLM, llama.cpp) want no key, but the client insists on one.
                api_key=settings.LLM_API_KEY or "none",
                timeout=float(settings.LLM_TIMEOUT_SECONDS),
                max_retries=0,  # we retry ourselves: which errors, how often, how long between
            )
            _clients[key] = client
        return client


def _chat(purpose: str, system: str, user: str, *, schema: dict) -> Any:
    """Ask the model; its answer parsed as JSON, or None (logged) when it is not JSON.

    Raises LLMUnavailable when the model cannot be reached after the retries, or refuses.
    """
    import openai

    if not llm_enabled():
        raise LLMUnavailable("No LLM is configured (LLM_BASE_URL)")
    client = _client()
    attempts = int(settings.LLM_MAX_RETRIES) + 1
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(_BACKOFF_SECONDS * 2 ** (attempt - 1), _BACKOFF_MAX_SECONDS))
        started = time.perf_counter()
        try:
            response = _create(
                client,
                purpose,
                schema,
                model=settings.LLM_MODEL,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            )
        except openai.APITimeoutError:
            problem = f"no answer within {settings.LLM_TIMEOUT_SECONDS:g} s"
        except openai.APIConnectionError as exc:
            problem = f"cannot connect ({_cause(exc)})"
        except openai.APIStatusError as exc:
            problem = f"HTTP {exc.status_code}"
            if exc.status_code < 500 and exc.status_code not in _RETRYABLE_STATUS:
                logger.error("LLM %s call refused: HTTP %s %s", purpose, exc.status_code, _short(exc.message))
                raise LLMUnavailable(
                    f"The LLM refused the request (HTTP {exc.status_code}); check LLM_MODEL and LLM_API_KEY",
                    details={"status": exc.status_code},
                ) from None
        except (openai.OpenAIError, ValueError) as exc:
            # A body that is not a chat completion (not JSON at all, the wrong shape), or another
            # client error with no status.
            _log_malformed(purpose, _short(str(exc)), "not a chat completion")
            return None
        else:
            return _answer_of(purpose, response, time.perf_counter() - started)
        logger.warning("LLM %s call failed (attempt %d of %d): %s", purpose, attempt + 1, attempts, problem)
    raise LLMUnavailable(f"The LLM is unavailable: {problem}", details={"attempts": attempts})


# (LLM_BASE_URL, LLM_MODEL) of models that refuse temperature 0 (some reasoning models take only
# their default): asked without it from then on.
_default_temperature_only: set[tuple[str, str]] = set()

# The ways of asking for an answer of a given schema, best first: OpenAI's structured outputs
# (OpenAI, Ollama, vLLM, llama.cpp's llama-server), the schema inside JSON mode (llama-cpp-python's
# server, which refuses the first with a 500 naming response_format), plain JSON mode (any server
# with a JSON mode).
RESPONSE_FORMATS = ("json_schema", "json_object_schema", "json_object")
# (LLM_BASE_URL, LLM_MODEL) -> index in RESPONSE_FORMATS of the best way it has not refused.
_response_format_level: dict[tuple[str, str], int] = {}


def response_format_for(base_url: str, model: str) -> str:
    """Which of RESPONSE_FORMATS the model at ``base_url`` is asked with now (for reports)."""
    return RESPONSE_FORMATS[_response_format_level.get((base_url, model), 0)]


def _response_format(level: int, purpose: str, schema: dict) -> dict:
    way = RESPONSE_FORMATS[level]
    if way == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": purpose, "strict": True, "schema": schema}}
    if way == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


def _create(client, purpose: str, schema: dict, **kwargs):
    """One chat completion, at temperature 0 (the same answer for the same conversation) where the
    model accepts it, constrained to ``schema`` in the best way the server accepts.

    A 400/422 that names the temperature, or a 400/422/5xx that names the response format, steps
    down once for that setting and is remembered per (LLM_BASE_URL, LLM_MODEL); every step is taken
    at most once, so this ends.
    """
    import openai

    model = (settings.LLM_BASE_URL, settings.LLM_MODEL)
    while True:
        level = _response_format_level.get(model, 0)
        options = {"response_format": _response_format(level, purpose, schema)}
        if model not in _default_temperature_only:
            options["temperature"] = 0
        if settings.LLM_MAX_TOKENS:
            options["max_tokens"] = int(settings.LLM_MAX_TOKENS)
        try:
            return client.chat.completions.create(**kwargs, **options)
        except openai.APIStatusError as exc:
            # llama-cpp-python's server answers a response format it does not know with a 500.
            if exc.status_code not in (400, 422) and exc.status_code < 500:
                raise
            said = str(exc).lower()
            if "temperature" in options and "temperature" in said and exc.status_code < 500:
                logger.info("LLM model %s refuses temperature 0; asking at its default from now on", model[1])
                _default_temperature_only.add(model)
            elif level + 1 < len(RESPONSE_FORMATS) and ("response_format" in said or "json_schema" in said):
                logger.info(
                    "LLM model %s refuses response_format %s (HTTP %s); asking with %s from now on",
                    model[1],
                    RESPONSE_FORMATS[level],
                    exc.status_code,
                    RESPONSE_FORMATS[level + 1],
                )
                _response_format_level[model] = level + 1
            else:
                raise


def _answer_of(purpose: str, response: Any, seconds: float) -> Any:
    try:
        raw = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        _log_malformed(purpose, _short(repr(response)), "no message in the completion")
        return None
    logger.debug("LLM %s answered in %.0f ms: %s", purpose, seconds * 1000, _short(repr(raw)))
    if not isinstance(raw, str) or not raw.strip():
        _log_malformed(purpose, repr(raw), "empty message")
        return None
    try:
        return _parse_json(raw)
    except ValueError:
        _log_malformed(purpose, raw, "not JSON")
        return None


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return _short(str(exc) or type(exc).__name__)


def _short(text: str) -> str:
    return text if len(text) <= _LOG_CHARS else text[:_LOG_CHARS] + "..."
