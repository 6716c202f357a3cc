"""Procedural memories (Mem0's ``memory_type="procedural_memory"``): how an agent carried out a task.

Mem0 OSS has an LLM summarise the whole conversation into one memory of the agent (``agent_id`` is
required) and stores it as is: no fact extraction, no deduplication, no update decisions. mem0g does
the same with the configured LLM (``LLM_BASE_URL``, :func:`memories.llm.llm_procedure`); without one
it keeps the conversation's own words: the task (the first user message) and then every later
message in order, numbered. Nothing is paraphrased or invented.

Pure functions over plain data: stdlib only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memories.attachments import attachment_text

_LABELS = {"user": "User", "assistant": "Agent", "tool": "Tool"}


def message_text(message: Any) -> str:
    """A message's text and its references, on one line each."""
    lines = [line.strip() for line in message.content.splitlines() if line.strip()]
    lines += [attachment_text(attachment, message.role) for attachment in message.attachments]
    return " ".join(lines)


def procedure_summary(messages: Sequence[Any]) -> str:
    """The conversation (``memories.extraction.Message``s) as a procedure, in its own words: ``Task:``
    the first user message, then ``Steps:`` every later non-system message, numbered, each labelled
    with who said it (``Agent`` for the assistant). An empty string when no message has any text."""
    said = [(message.role, message_text(message)) for message in messages if message.role != "system"]
    said = [(role, text) for role, text in said if text]
    task_at = next((index for index, (role, _) in enumerate(said) if role == "user"), None)
    lines = []
    if task_at is not None:
        lines.append(f"Task: {said[task_at][1]}")
        said = said[:task_at] + said[task_at + 1 :]
    if said:
        lines.append("Steps:")
        lines += [
            f"{number}. {_LABELS.get(role, role.capitalize())}: {text}"
            for number, (role, text) in enumerate(said, start=1)
        ]
    return "\n".join(lines)
