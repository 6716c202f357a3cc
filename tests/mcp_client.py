"""Calling mem0g's MCP server (``/mcp``) through the official MCP client SDK (Streamable HTTP), for
tests/test_mcp.py and tests/test_mcp_access.py."""

import json
import ssl
from typing import Any

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

# One TLS context for every client: httpx builds one per client otherwise (~20 ms of CPU: the CA
# bundle loaded again), even for the test server's plain HTTP.
TLS = ssl.create_default_context()


class Answer:
    """A tool call's result: ``error`` (the message of an ``isError`` result) or ``data``."""

    def __init__(self, result) -> None:
        self.is_error = bool(result.is_error)
        text = "".join(getattr(part, "text", "") for part in result.content)
        self.error = text if self.is_error else None
        self.data: Any = result.structured_content if result.structured_content is not None else _json(text)

    def __repr__(self) -> str:
        return f"Answer(error={self.error!r}, data={self.data!r})"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _with_session(url: str, key: str | None, work):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60, verify=TLS) as http:
        async with streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)


def list_tools(url: str, key: str | None) -> list:
    async def work(session):
        return (await session.list_tools()).tools

    return anyio.run(_with_session, url, key, work)


def call(url: str, key: str | None, name: str, **arguments) -> Answer:
    async def work(session):
        return Answer(await session.call_tool(name, arguments))

    return anyio.run(_with_session, url, key, work)
