"""The call itself: one OpenAI-compatible client per configuration, retries with back-off, and the
best response format the server accepts (remembered per endpoint and model).

The LLM not answering (timeout, connection refused, 5xx, 429) is retried ``LLM_MAX_RETRIES`` times and
then raises :class:`~mem0g_site.exceptions.LLMUnavailable`; a refusal (401, 404) raises it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings

from mem0g_site.exceptions import LLMUnavailable
from memories.llm.answers import log_malformed, parse_json, shorten

logger = logging.getLogger("mem0g.llm")

# Pause before retry n (1-based): 0.2 s, 0.4 s, 0.8 s, ... capped at 2 s.
_BACKOFF_SECONDS = 0.2
_BACKOFF_MAX_SECONDS = 2.0
_RETRYABLE_STATUS = frozenset({408, 409, 429})


def llm_enabled() -> bool:
    """True when an LLM endpoint is configured (``LLM_BASE_URL``)."""
    return bool(settings.LLM_BASE_URL)


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


def chat(purpose: str, system: str, user: str, *, schema: dict) -> Any:
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
                logger.error("LLM %s call refused: HTTP %s %s", purpose, exc.status_code, shorten(exc.message))
                raise LLMUnavailable(
                    f"The LLM refused the request (HTTP {exc.status_code}); check LLM_MODEL and LLM_API_KEY",
                    details={"status": exc.status_code},
                ) from None
        except (openai.OpenAIError, ValueError) as exc:
            # A body that is not a chat completion (not JSON at all, the wrong shape), or another
            # client error with no status.
            log_malformed(purpose, shorten(str(exc)), "not a chat completion")
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
        log_malformed(purpose, shorten(repr(response)), "no message in the completion")
        return None
    logger.debug("LLM %s answered in %.0f ms: %s", purpose, seconds * 1000, shorten(repr(raw)))
    if not isinstance(raw, str) or not raw.strip():
        log_malformed(purpose, repr(raw), "empty message")
        return None
    try:
        return parse_json(raw)
    except ValueError:
        log_malformed(purpose, raw, "not JSON")
        return None


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return shorten(str(exc) or type(exc).__name__)
