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

The schema constrains the answer where the server can (see :mod:`memories.llm.client`): OpenAI's
structured outputs (``json_schema``) first; a server that refuses them (HTTP 400, 422 or 5xx naming
the response format) is asked with the schema inside JSON mode (llama-cpp-python's server), and then in
plain JSON mode, and remembered. The prompts describe the same shape for servers that ignore it.

No ORM here: plain data in, plain data out.

The package: :mod:`~memories.llm.calls` (the public calls), :mod:`~memories.llm.prompts` (our prompts and
the answers' JSON schemas), :mod:`~memories.llm.answers` (reading what the model said) and
:mod:`~memories.llm.client` (the HTTP client, retries and response formats).
"""

from memories.llm.calls import llm_decide, llm_extract_facts, llm_extract_relations, llm_procedure
from memories.llm.client import RESPONSE_FORMATS, llm_enabled, response_format_for

__all__ = [
    "RESPONSE_FORMATS",
    "llm_decide",
    "llm_enabled",
    "llm_extract_facts",
    "llm_extract_relations",
    "llm_procedure",
    "response_format_for",
]
