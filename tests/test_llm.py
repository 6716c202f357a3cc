"""The LLM path (the memories/llm/ package) against a local OpenAI-compatible server (tests/llm_server.py).

The server is the only fake in the suite: it stands for a remote LLM. These tests check what we
send (JSON mode, the model, our prompts with the caller's instructions), how we read the answers
(facts, decisions with their ids mapped back and checked, relations), and what happens when the
model is slow, down, or answers nonsense.
"""

import logging
import time
from datetime import UTC, datetime

import pytest

from mem0g_site.exceptions import LLMUnavailable, ServiceUnavailable
from memories.decisions import Candidate, Decision
from memories.extraction import Fact, Message
from memories.llm import llm_decide, llm_enabled, llm_extract_facts, llm_extract_relations, response_format_for
from tests.conftest import error_of
from tests.test_configuration import _manage

OBSERVED = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)  # a Saturday
PARIS = "5b0f3c1e-1111-4c1a-9d8e-000000000001"
COFFEE = "5b0f3c1e-2222-4c1a-9d8e-000000000002"
ALLERGY = "5b0f3c1e-3333-4c1a-9d8e-000000000003"


def fact(text, kind="other"):
    return Fact(text=text, role="user", kind=kind)


def extract(messages, **kwargs):
    kwargs.setdefault("observed_at", OBSERVED)
    kwargs.setdefault("agent_scoped", False)
    return llm_extract_facts(messages, **kwargs)


# --- Configuration ---------------------------------------------------------------------------


def test_llm_is_enabled_by_base_url(settings):
    settings.LLM_BASE_URL = ""
    assert llm_enabled() is False
    settings.LLM_BASE_URL = "http://127.0.0.1:11434/v1"
    assert llm_enabled() is True


@pytest.mark.parametrize(
    "env, named",
    [
        ({"LLM_BASE_URL": "localhost:11434", "LLM_MODEL": "llama3.2"}, "LLM_BASE_URL"),
        ({"LLM_BASE_URL": "http://localhost:11434/v1"}, "LLM_MODEL"),
        ({"LLM_TIMEOUT_SECONDS": "soon"}, "LLM_TIMEOUT_SECONDS"),
        ({"LLM_MAX_RETRIES": "-1"}, "LLM_MAX_RETRIES"),
        ({"LLM_MAX_TOKENS": "lots"}, "LLM_MAX_TOKENS"),
    ],
)
def test_bad_llm_settings_stop_start_up_naming_the_variable(env, named, tmp_path):
    # A database URL that is only parsed: the settings stop before anything connects.
    result = _manage("check", **env, DATABASE_URL="postgres://nobody@127.0.0.1:9/nothing", MEM0G_DATA_DIR=str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("mem0g: configuration error: ")
    assert named in result.stderr


# --- Extraction ------------------------------------------------------------------------------


def test_extraction_request_asks_for_the_facts_schema_the_model_and_our_prompt(llm_server):
    llm_server.reply({"facts": [{"text": "User loves working with Python and AI", "kind": "preference"}]})
    facts = extract(
        [
            Message(role="system", content="You are a helpful bot."),
            Message(role="user", content="Hi! I love working with Python and AI.", name="alice"),
            Message(role="assistant", content="Great, what are you building?"),
        ],
        custom_instructions="Remember programming languages only.",
        includes="programming",
        excludes="weather",
    )
    assert facts == [Fact(text="User loves working with Python and AI", role="user", kind="preference")]

    [request] = llm_server.requests
    body = request.body
    assert body["model"] == "test-model"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "extraction", "strict": True, "schema": FACTS_SCHEMA},
    }
    assert request.headers["authorization"] == "Bearer test-llm-key"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "third person" in request.system
    assert "Remember programming languages only." in request.system
    assert "Only keep facts about: programming." in request.system
    assert "Never keep facts about: weather." in request.system
    assert '"facts"' in request.system  # the answer format
    # The conversation, with the observation date to resolve "yesterday" against; system messages stay out.
    assert "Observation date: 2026-03-14 (Saturday)" in request.user
    assert "user (alice): Hi! I love working with Python and AI." in request.user
    assert "assistant: Great, what are you building?" in request.user
    assert "helpful bot" not in request.user


def test_extracted_facts_are_cleaned_and_checked(llm_server):
    llm_server.reply(
        {
            "facts": [
                {"text": "  User   moved to Berlin on 2026-03-13 ", "kind": "BIOGRAPHY", "negated": False},
                {"text": "User no longer drinks coffee", "kind": "preference", "negated": True},
                {"text": "User has a dog named Rex", "kind": "pets"},  # unknown kind
                "User plays chess on Sundays",  # a bare string
                {"text": "User has a dog named Rex"},  # repeated
                {"text": "Assistant is called Max", "role": "assistant"},  # not agent-scoped: dropped
                {"text": ""},
                {"kind": "habit"},
                42,
            ]
        }
    )
    facts = extract([Message(role="user", content="I moved to Berlin yesterday. No more coffee for me...")])
    assert facts == [
        Fact(text="User moved to Berlin on 2026-03-13", role="user", kind="biography"),
        Fact(text="User no longer drinks coffee", role="user", kind="preference", negated=True),
        Fact(text="User has a dog named Rex", role="user", kind="other"),
        Fact(text="User plays chess on Sundays", role="user", kind="other"),
    ]


def test_agent_scoped_extraction_keeps_what_the_assistant_says_about_itself(llm_server):
    llm_server.reply(
        {
            "facts": [
                {"text": "Assistant is called Max", "role": "assistant", "kind": "biography"},
                {"text": "User likes short answers", "kind": "preference"},
            ]
        }
    )
    facts = extract(
        [Message(role="user", content="Keep it short please"), Message(role="assistant", content="I'm Max.")],
        agent_scoped=True,
    )
    assert [(f.role, f.text) for f in facts] == [
        ("assistant", "Assistant is called Max"),
        ("user", "User likes short answers"),
    ]
    assert '"Assistant"' in llm_server.requests[0].system


def test_a_custom_prompt_replaces_the_task_but_keeps_the_answer_format(llm_server):
    llm_server.reply({"facts": [{"text": "User is allergic to peanuts", "kind": "other"}]})
    facts = extract([Message(role="user", content="Peanuts make me sick")], prompt="Extract only health facts.")
    assert [f.text for f in facts] == ["User is allergic to peanuts"]
    system = llm_server.requests[0].system
    assert system.startswith("Extract only health facts.")
    assert "third person" not in system
    assert '"facts"' in system


def test_nothing_said_by_the_user_makes_no_call(llm_server):
    assert (
        extract([Message(role="assistant", content="Hello, how can I help?"), Message(role="user", content="  ")]) == []
    )
    assert extract([]) == []
    assert llm_server.requests == []


def test_a_fenced_json_answer_is_read(llm_server):
    llm_server.reply_raw('```json\n{"facts": [{"text": "User likes tea"}]}\n```')
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]


@pytest.mark.parametrize(
    "raw, why",
    [
        ("Sure! The user likes tea.", "not JSON"),
        ('{"facts": "User likes tea"}', "no 'facts' list"),
        ('{"memories": [{"text": "User likes tea"}]}', "no 'facts' list"),
        ("", "empty message"),
    ],
)
def test_malformed_extraction_output_is_logged_and_means_no_facts(llm_server, caplog, raw, why):
    llm_server.reply_raw(raw)
    with caplog.at_level(logging.WARNING, logger="mem0g.llm"):
        assert extract([Message(role="user", content="I like tea")]) == []
    [record] = [r for r in caplog.records if r.name == "mem0g.llm"]
    assert record.levelno == logging.WARNING
    assert why in record.getMessage()
    assert len(llm_server.requests) == 1  # malformed output is not retried


def test_malformed_output_is_logged_truncated(llm_server, caplog):
    llm_server.reply_raw("x" * 5000)
    with caplog.at_level(logging.WARNING, logger="mem0g.llm"):
        assert extract([Message(role="user", content="I like tea")]) == []
    message = next(r.getMessage() for r in caplog.records if r.name == "mem0g.llm")
    assert "x" * 500 in message and "x" * 501 not in message
    assert len(message) < 700


def test_a_body_that_is_not_a_chat_completion_means_no_facts(llm_server, caplog):
    llm_server.broken_body("<html>not an API</html>")
    with caplog.at_level(logging.WARNING, logger="mem0g.llm"):
        assert extract([Message(role="user", content="I like tea")]) == []
    assert any("answer ignored" in r.getMessage() for r in caplog.records if r.name == "mem0g.llm")


# --- Failures: retry, then 503 ---------------------------------------------------------------


def test_a_timeout_is_retried_then_raises_llm_unavailable(llm_server, settings):
    settings.LLM_TIMEOUT_SECONDS = 0.5
    llm_server.stall(3).stall(3)
    started = time.perf_counter()
    with pytest.raises(LLMUnavailable) as caught:
        extract([Message(role="user", content="I like tea")])
    elapsed = time.perf_counter() - started
    assert len(llm_server.requests) == 2  # the call and one retry
    assert 1.0 <= elapsed < 2.5  # two timeouts of 0.5 s and a short pause, not the server's 3 s
    error = caught.value
    assert isinstance(error, ServiceUnavailable)
    assert error.status == 503 and error.code == "LLM_UNAVAILABLE"
    assert "no answer within 0.5 s" in error.message


def test_a_500_is_retried_and_the_retry_answers(llm_server):
    llm_server.fail(500).reply({"facts": [{"text": "User likes tea", "kind": "preference"}]})
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]
    assert len(llm_server.requests) == 2
    assert llm_server.requests[0].body == llm_server.requests[1].body


def test_a_timeout_then_an_answer_succeeds(llm_server, settings):
    # Long enough for the retry's answer on a loaded machine (CI once took 0.73 s for it).
    settings.LLM_TIMEOUT_SECONDS = 2
    llm_server.stall(10).reply({"facts": ["User likes tea"]})
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]


def test_repeated_5xx_raise_llm_unavailable(llm_server):
    llm_server.fail(502).fail(503)
    with pytest.raises(LLMUnavailable, match="HTTP 503"):
        extract([Message(role="user", content="I like tea")])
    assert len(llm_server.requests) == 2


def test_the_retry_count_is_configurable(llm_server, settings):
    settings.LLM_MAX_RETRIES = 0
    llm_server.fail(500)
    with pytest.raises(LLMUnavailable):
        extract([Message(role="user", content="I like tea")])
    assert len(llm_server.requests) == 1
    settings.LLM_MAX_RETRIES = 2
    llm_server.fail(500).fail(500).reply({"facts": ["User likes tea"]})
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]
    assert len(llm_server.requests) == 4


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_refusal_is_not_retried(llm_server, status):
    llm_server.fail(status)
    with pytest.raises(LLMUnavailable, match=f"HTTP {status}") as caught:
        extract([Message(role="user", content="I like tea")])
    assert caught.value.code == "LLM_UNAVAILABLE"
    assert len(llm_server.requests) == 1


def test_a_model_that_refuses_temperature_0_is_asked_at_its_default(llm_server, settings):
    settings.LLM_MODEL = "reasoning-model-that-takes-no-temperature"
    llm_server.fail(400, "Unsupported value: 'temperature' does not support 0 with this model.")
    llm_server.reply({"facts": ["User likes tea"]}).reply({"facts": ["User likes coffee"]})
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]
    assert [f.text for f in extract([Message(role="user", content="I like coffee")])] == ["User likes coffee"]
    assert [r.body.get("temperature") for r in llm_server.requests] == [0, None, None]


KINDS = ["preference", "plan", "relation", "biography", "possession", "habit", "correction", "other"]
# The answer schema in OpenAI's strict subset: every property required, no others.
FACTS_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "kind": {"type": "string", "enum": KINDS},
                    "negated": {"type": "boolean"},
                    "role": {"type": "string", "enum": ["user", "assistant"]},
                },
                "required": ["text", "kind", "negated", "role"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["facts"],
    "additionalProperties": False,
}

# What llama-cpp-python's server (0.3.36) answers to a json_schema response format, with a 500.
REFUSES_JSON_SCHEMA = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"
)


def test_a_server_without_structured_outputs_gets_the_schema_in_json_mode_then_plain_json_mode(llm_server, settings):
    llm_server.fail(500, REFUSES_JSON_SCHEMA).reply({"facts": ["User likes tea"]})
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]
    # Remembered: the next call goes straight to the schema in JSON mode; its refusal steps down once more.
    llm_server.fail(400, "response_format.schema is not supported").reply({"facts": ["User likes coffee"]})
    assert [f.text for f in extract([Message(role="user", content="I like coffee")])] == ["User likes coffee"]
    llm_server.reply({"relations": []})
    assert llm_extract_relations(["User likes coffee"]) == [[]]
    formats = [r.body["response_format"] for r in llm_server.requests]
    assert [f["type"] for f in formats] == ["json_schema", "json_object", "json_object", "json_object", "json_object"]
    assert formats[1] == {"type": "json_object", "schema": FACTS_SCHEMA}
    assert formats[2]["schema"] == FACTS_SCHEMA
    assert formats[3] == formats[4] == {"type": "json_object"}
    assert response_format_for(settings.LLM_BASE_URL, settings.LLM_MODEL) == "json_object"


def test_a_refusal_of_plain_json_mode_is_a_refusal(llm_server):
    llm_server.fail(422, REFUSES_JSON_SCHEMA)
    llm_server.fail(422, "response_format: schema not supported")
    llm_server.fail(400, "response_format json_object is not supported by this model")
    with pytest.raises(LLMUnavailable, match="HTTP 400"):
        extract([Message(role="user", content="I like tea")])
    assert len(llm_server.requests) == 3


def test_a_422_about_something_else_is_a_refusal_without_stepping_down(llm_server, settings):
    llm_server.fail(422, "messages: field required")
    with pytest.raises(LLMUnavailable, match="HTTP 422"):
        extract([Message(role="user", content="I like tea")])
    assert len(llm_server.requests) == 1
    assert response_format_for(settings.LLM_BASE_URL, settings.LLM_MODEL) == "json_schema"


def test_a_500_about_something_else_is_retried_without_stepping_down(llm_server, settings):
    llm_server.fail(500, "CUDA out of memory").reply({"facts": ["User likes tea"]})
    assert [f.text for f in extract([Message(role="user", content="I like tea")])] == ["User likes tea"]
    assert [r.body["response_format"]["type"] for r in llm_server.requests] == ["json_schema", "json_schema"]


def test_requests_ask_for_temperature_0(llm_server):
    llm_server.reply({"facts": []})
    extract([Message(role="user", content="I like tea")])
    assert llm_server.requests[0].body["temperature"] == 0
    assert "max_tokens" not in llm_server.requests[0].body  # LLM_MAX_TOKENS=0: the server's own limit


def test_llm_max_tokens_caps_the_answer_and_a_cut_answer_means_no_facts(llm_server, settings, caplog):
    settings.LLM_MAX_TOKENS = 300
    llm_server.reply_raw('{"facts": [{"text": "User li')  # what a server sends when the cap cuts it
    with caplog.at_level(logging.WARNING, logger="mem0g.llm"):
        assert extract([Message(role="user", content="I live in Lisbon")]) == []
    assert llm_server.requests[0].body["max_tokens"] == 300
    assert any("not JSON" in r.getMessage() for r in caplog.records if r.name == "mem0g.llm")


def test_nothing_listening_raises_llm_unavailable(settings):
    from tests.llm_server import LLMServer

    with LLMServer() as server:
        url = server.base_url  # a port that was free a moment ago and is closed now
    settings.LLM_BASE_URL = url
    settings.LLM_MODEL = "test-model"
    settings.LLM_TIMEOUT_SECONDS = 0.5
    settings.LLM_MAX_RETRIES = 1
    with pytest.raises(LLMUnavailable, match="cannot connect"):
        extract([Message(role="user", content="I like tea")])


# --- Decisions -------------------------------------------------------------------------------


def test_decisions_use_short_aliases_and_map_them_back(llm_server):
    facts = [fact("User moved to Berlin"), fact("User likes pizza with mushrooms"), fact("User lives in Berlin now")]
    candidates = [
        [Candidate(id=PARIS, text="User lives in Paris", score=0.8)],
        [
            Candidate(id=COFFEE, text="User likes pizza", score=0.9),
            Candidate(id=PARIS, text="User lives in Paris", score=0.3),
        ],
        [Candidate(id=ALLERGY, text="User moved to Berlin", score=0.95)],
    ]
    llm_server.reply(
        {
            "decisions": [
                {"fact": 0, "event": "SUPERSEDE", "id": 1, "text": "User moved to Berlin"},
                {"fact": 1, "event": "update", "id": "2", "text": "User likes pizza with mushrooms"},
                {"fact": 2, "event": "NONE", "id": 3},
            ]
        }
    )
    assert llm_decide(facts, candidates) == [
        Decision(event="SUPERSEDE", text="User moved to Berlin", target_id=PARIS),
        Decision(event="UPDATE", text="User likes pizza with mushrooms", target_id=COFFEE),
        Decision(event="NONE", text="User lives in Berlin now", target_id=ALLERGY),
    ]
    [request] = llm_server.requests
    assert request.body["response_format"]["json_schema"]["schema"]["required"] == ["decisions"]
    sent = request.user_json()["new_facts"]
    assert [item["text"] for item in sent] == [f.text for f in facts]
    assert sent[1]["existing"] == [{"id": 2, "text": "User likes pizza"}, {"id": 1, "text": "User lives in Paris"}]
    assert PARIS not in request.user and COFFEE not in request.user  # no UUIDs in the prompt
    assert "SUPERSEDE" in request.system and "immutable" in request.system


def test_invented_ids_and_other_facts_ids_become_add(llm_server):
    facts = [fact("User likes green tea"), fact("User works at Acme")]
    candidates = [
        [Candidate(id=COFFEE, text="User likes tea", score=0.8)],
        [Candidate(id=PARIS, text="User lives in Paris", score=0.4)],
    ]
    llm_server.reply(
        {
            "decisions": [
                {"fact": 0, "event": "UPDATE", "id": 7, "text": "User likes green tea"},  # no such alias
                {"fact": 1, "event": "SUPERSEDE", "id": 1},  # fact 0's candidate, not this one's
            ]
        }
    )
    assert llm_decide(facts, candidates) == [
        Decision(event="ADD", text="User likes green tea"),
        Decision(event="ADD", text="User works at Acme"),
    ]


def test_immutable_candidates_are_never_updated_or_superseded(llm_server):
    immutable = Candidate(id=ALLERGY, text="User is allergic to peanuts", score=0.9, immutable=True)
    facts = [fact("User is allergic to peanuts and cashews"), fact("User is no longer allergic to peanuts")]
    facts.append(fact("User is allergic to peanuts"))
    llm_server.reply(
        {
            "decisions": [
                {"fact": 0, "event": "UPDATE", "id": 1, "text": "User is allergic to peanuts and cashews"},
                {"fact": 1, "event": "SUPERSEDE", "id": 1},
                {"fact": 2, "event": "NONE", "id": 1},
            ]
        }
    )
    assert llm_decide(facts, [[immutable]] * 3) == [
        Decision(event="ADD", text="User is allergic to peanuts and cashews"),
        Decision(event="ADD", text="User is no longer allergic to peanuts"),
        Decision(event="NONE", text="User is allergic to peanuts", target_id=ALLERGY),
    ]
    assert '"immutable": true' in llm_server.requests[0].user


def test_one_memory_is_changed_by_one_fact_only(llm_server):
    paris = Candidate(id=PARIS, text="User lives in Paris", score=0.8)
    facts = [fact("User moved to Berlin"), fact("User lives in Berlin Mitte")]
    llm_server.reply(
        {
            "decisions": [
                {"fact": 1, "event": "SUPERSEDE", "id": 1},  # listed first, but fact 0 comes first
                {"fact": 0, "event": "SUPERSEDE", "id": 1},
                {"fact": 0, "event": "NONE", "id": 1},  # a second answer for fact 0: ignored
            ]
        }
    )
    assert llm_decide(facts, [[paris], [paris]]) == [
        Decision(event="SUPERSEDE", text="User moved to Berlin", target_id=PARIS),
        Decision(event="ADD", text="User lives in Berlin Mitte"),
    ]


def test_facts_without_candidates_are_added_without_asking(llm_server):
    assert llm_decide([fact("User likes tea")], [[]]) == [Decision(event="ADD", text="User likes tea")]
    assert llm_decide([], []) == []
    assert llm_server.requests == []

    llm_server.reply({"decisions": [{"fact": 0, "event": "NONE", "id": 1}]})
    facts = [fact("User has a cat"), fact("User likes tea")]
    decisions = llm_decide(facts, [[], [Candidate(id=COFFEE, text="User enjoys tea", score=0.97)]])
    assert decisions == [
        Decision(event="ADD", text="User has a cat"),
        Decision(event="NONE", text="User likes tea", target_id=COFFEE),
    ]
    assert [item["text"] for item in llm_server.requests[0].user_json()["new_facts"]] == ["User likes tea"]


def test_a_fact_already_held_in_the_same_words_is_none_without_asking(llm_server):
    tea = Candidate(id=COFFEE, text="User likes  tea.", score=0.99)
    assert llm_decide([fact("user likes tea")], [[tea]]) == [
        Decision(event="NONE", text="user likes tea", target_id=COFFEE)
    ]
    assert llm_server.requests == []


def test_missing_or_unknown_events_are_add(llm_server):
    facts = [fact("User likes tea"), fact("User has a cat"), fact("User runs")]
    candidates = [[Candidate(id=COFFEE, text="User likes coffee", score=0.7)]] * 3
    llm_server.reply({"decisions": [{"fact": 0, "event": "DELETE", "id": 1}, {"fact": "x", "event": "NONE", "id": 1}]})
    assert llm_decide(facts, candidates) == [Decision(event="ADD", text=f.text) for f in facts]


def test_malformed_decision_output_means_add_for_every_fact(llm_server, caplog):
    llm_server.reply_raw("UPDATE 1")
    facts = [fact("User likes green tea")]
    with caplog.at_level(logging.WARNING, logger="mem0g.llm"):
        decisions = llm_decide(facts, [[Candidate(id=COFFEE, text="User likes tea", score=0.8)]])
    assert decisions == [Decision(event="ADD", text="User likes green tea")]
    assert any("UPDATE 1" in r.getMessage() for r in caplog.records if r.name == "mem0g.llm")


def test_decision_failures_raise_llm_unavailable(llm_server):
    llm_server.fail(500).fail(500)
    with pytest.raises(LLMUnavailable):
        llm_decide([fact("User likes tea")], [[Candidate(id=COFFEE, text="User likes coffee", score=0.7)]])


# --- Relations -------------------------------------------------------------------------------


def test_relations_per_text_in_snake_case(llm_server):
    llm_server.reply(
        {
            "relations": [
                {"text": 0, "source": "user", "relationship": "Lives In", "destination": "Berlin"},
                {"text": 0, "source": "user", "relationship": "worksAt", "destination": " Acme  GmbH "},
                {"text": 1, "source": "Anna", "relationship": "sister-of", "destination": "user"},
                {"text": 1, "source": "Anna", "relationship": "sister_of", "destination": "user"},  # repeated
                {"text": 5, "source": "x", "relationship": "y", "destination": "z"},  # no such text
                {"text": 1, "source": "", "relationship": "likes", "destination": "tea"},
            ]
        }
    )
    # Blank texts are not sent: the model numbers the texts it got, mapped back to the caller's.
    texts = ["User lives in Berlin and works at Acme GmbH", "   ", "Anna is User's sister"]
    assert llm_extract_relations(texts) == [
        [("user", "lives_in", "Berlin"), ("user", "works_at", "Acme GmbH")],
        [],
        [("Anna", "sister_of", "user")],
    ]
    sent = llm_server.requests[0].user_json()["texts"]
    assert sent == [{"text": 0, "content": texts[0]}, {"text": 1, "content": texts[2]}]


def test_malformed_relations_mean_none(llm_server):
    llm_server.reply({"triples": []})
    assert llm_extract_relations(["User lives in Berlin", "User likes tea"]) == [[], []]
    assert llm_extract_relations([]) == []
    assert len(llm_server.requests) == 1


# --- Through the API -------------------------------------------------------------------------


def route(extract, decide=None):
    """A responder for the test server: the extraction call gets ``extract``, the decision call
    ``decide`` (a value, or a function of the request's JSON payload)."""

    def respond(request):
        if '"decisions"' in request.system:
            assert decide is not None, "unexpected decision call"
            return decide(request.user_json()) if callable(decide) else decide
        assert '"facts"' in request.system, request.system[:200]
        return extract

    return respond


def alias_of(payload, text):
    """The short id the decision prompt gave the memory with this text."""
    return next(e["id"] for item in payload["new_facts"] for e in item["existing"] if e["text"] == text)


ADD_PATH = "/v3/memories/add/"


@pytest.mark.django_db
def test_add_with_an_llm_stores_the_facts_it_extracts(llm_server, project, make_key, api):
    from memories.models import Memory

    key = make_key(project)
    llm_server.responder = route(
        {"facts": [{"text": "User loves hiking", "kind": "preference"}, {"text": "User has a dog named Rex"}]},
        decide={"decisions": []},
    )
    response = api(
        "POST",
        ADD_PATH,
        key,
        data={"messages": [{"role": "user", "content": "I love hiking with my dog Rex!"}], "user_id": "alice"},
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["memory"], r["event"]) for r in results] == [
        ("User loves hiking", "ADD"),
        ("User has a dog named Rex", "ADD"),
    ]
    stored = Memory.objects.for_project(project).filter(user_id="alice")
    assert sorted(stored.values_list("memory", flat=True)) == ["User has a dog named Rex", "User loves hiking"]
    extraction = llm_server.requests[0]
    assert extraction.body["response_format"]["type"] == "json_schema"
    assert "user: I love hiking with my dog Rex!" in extraction.user


@pytest.mark.django_db
def test_add_passes_custom_instructions_to_the_llm(llm_server, project, make_key, api):
    key = make_key(project)
    llm_server.responder = route({"facts": []})
    data = {"messages": "I love sushi", "user_id": "alice", "custom_instructions": "Only remember food."}
    response = api("POST", ADD_PATH, key, data={**data, "includes": "food"})
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    assert "Only remember food." in llm_server.requests[0].system
    assert "Only keep facts about: food." in llm_server.requests[0].system


@pytest.mark.django_db
def test_llm_down_answers_503_and_writes_nothing(llm_server, project, make_key, api, add):
    from memories.models import Memory

    key = make_key(project)
    add(project, "User lives in Paris", user_id="alice")
    llm_server.fail(500).fail(503)
    response = api("POST", ADD_PATH, key, data={"messages": "I moved to Berlin", "user_id": "alice"})
    body = error_of(response, 503, "LLM_UNAVAILABLE")
    assert "LLM" in body["detail"]
    assert len(llm_server.requests) == 2
    assert list(Memory.objects.for_project(project).values_list("memory", flat=True)) == ["User lives in Paris"]


@pytest.mark.django_db
def test_llm_failing_at_the_decision_writes_nothing(llm_server, project, make_key, api, add, settings):
    from memories.models import Memory

    key = make_key(project)
    old = add(project, "User lives in Paris", user_id="alice")
    settings.LLM_TIMEOUT_SECONDS = 1.5  # the extraction's answer is due within it, the decision's never
    llm_server.reply({"facts": [{"text": "User lives in Berlin", "kind": "biography"}]}).stall(10).stall(10)
    response = api("POST", ADD_PATH, key, data={"messages": "I live in Berlin now", "user_id": "alice"})
    error_of(response, 503, "LLM_UNAVAILABLE")
    assert len(llm_server.requests) == 3  # extraction, decision, its retry
    assert list(Memory.objects.for_project(project).values_list("id", flat=True)) == [old.id]
    old.refresh_from_db()
    assert old.valid_to is None


@pytest.mark.django_db
def test_an_llm_supersede_closes_the_old_memory_and_links_the_new(llm_server, project, make_key, api, add):
    from graph.models import Relationship
    from memories.models import Memory

    key = make_key(project)
    before = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    moved = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    old = add(project, "User lives in Paris", user_id="alice", now=before)
    llm_server.responder = route(
        {"facts": [{"text": "User lives in Berlin", "kind": "biography"}]},
        decide=lambda payload: {
            "decisions": [{"fact": 0, "event": "SUPERSEDE", "id": alias_of(payload, "User lives in Paris")}]
        },
    )
    response = api(
        "POST",
        ADD_PATH,
        key,
        data={"messages": "I live in Berlin now", "user_id": "alice", "timestamp": int(moved.timestamp())},
    )
    assert response.status_code == 200, response.content
    [result] = response.json()["results"]
    assert result["event"] == "SUPERSEDE" and result["memory"] == "User lives in Berlin"
    assert result["id"] != str(old.id)
    old.refresh_from_db()
    assert old.valid_to == moved  # closed, not deleted
    new = Memory.objects.get(id=result["id"])
    assert new.valid_from == moved and new.valid_to is None
    link = Relationship.objects.get(source=new, target=old)
    assert link.relation == "supersedes"


@pytest.mark.django_db
def test_an_llm_update_of_an_immutable_memory_adds_instead(llm_server, project, make_key, api, add):
    from memories.models import Memory

    key = make_key(project)
    old = add(project, "User is allergic to peanuts", user_id="alice", immutable=True)
    llm_server.responder = route(
        {"facts": [{"text": "User is allergic to peanuts and cashews"}]},
        decide=lambda payload: {
            "decisions": [
                {
                    "fact": 0,
                    "event": "UPDATE",
                    "id": alias_of(payload, "User is allergic to peanuts"),
                    "text": "User is allergic to peanuts and cashews",
                }
            ]
        },
    )
    response = api("POST", ADD_PATH, key, data={"messages": "Cashews too, actually", "user_id": "alice"})
    assert response.status_code == 200, response.content
    assert [r["event"] for r in response.json()["results"]] == ["ADD"]
    old.refresh_from_db()
    assert old.memory == "User is allergic to peanuts" and old.valid_to is None
    assert Memory.objects.for_project(project).count() == 2


@pytest.mark.django_db
def test_the_project_custom_instructions_apply_when_the_request_has_none(llm_server, project, make_key, api):
    key = make_key(project)
    from accounts.services import project_update_options

    project_update_options(project=project, options={"custom_instructions": "Remember hobbies only."})
    llm_server.responder = route({"facts": []})
    assert api("POST", ADD_PATH, key, data={"messages": "I paint", "user_id": "alice"}).status_code == 200
    data = {"messages": "I paint", "user_id": "alice", "custom_instructions": "Remember art."}
    assert api("POST", ADD_PATH, key, data=data).status_code == 200
    assert "Remember hobbies only." in llm_server.requests[0].system
    assert "Remember art." in llm_server.requests[1].system and "hobbies" not in llm_server.requests[1].system


@pytest.mark.django_db
def test_the_oss_prompt_replaces_the_extraction_instructions(llm_server, project, make_key, api):
    from memories.models import Memory

    key = make_key(project)
    llm_server.responder = route({"facts": [{"text": "User is vegetarian", "kind": "other"}]})
    data = {"messages": [{"role": "user", "content": "No meat for me"}], "user_id": "alice", "prompt": "Diet only."}
    response = api("POST", "/memories", key, header="x-api-key", data=data)
    assert response.status_code == 200, response.content
    assert [r["memory"] for r in response.json()["results"]] == ["User is vegetarian"]
    assert llm_server.requests[0].system.startswith("Diet only.")
    assert Memory.objects.for_project(project).filter(user_id="alice").count() == 1


@pytest.mark.django_db
def test_prompt_and_custom_instructions_must_be_text(llm_server, project, make_key, api):
    key = make_key(project)
    for field in ("prompt", "custom_instructions"):
        response = api("POST", ADD_PATH, key, data={"messages": "I paint", "user_id": "alice", field: ["x"]})
        assert error_of(response, 422, "VALIDATION_ERROR")["error"]["details"] == {"field": field}
    assert llm_server.requests == []
