"""Chat with memory: a FastAPI app that remembers its users, with mem0g as its memory layer.

The patterns are the ones teams use with Mem0, unchanged: the official SDK's ``AsyncMemoryClient``
pointed at mem0g (``host=``), wrapped in a small ``MemoryService`` that the app creates at start-up
and hands to its routes with ``Depends``. ``POST /chat`` looks up the user's relevant memories,
answers, and stores the exchange in a background task so the reply is not held up by the write.
When the memory server is down, the chat keeps working without memories and the failure is logged.

Run it (with mem0g serving on port 8000, see README.md):

    MEM0G_API_KEY=mem0_... .venv/bin/uvicorn chat_with_memory:app --app-dir examples --port 8001
    MEM0G_API_KEY=mem0_... .venv/bin/python examples/chat_with_memory.py      # the same, with logging

Environment:
    MEM0G_URL       mem0g's address (default http://127.0.0.1:8000)
    MEM0G_API_KEY   a mem0g key with the read and write scopes
    LLM_BASE_URL    optional: an OpenAI-compatible API (e.g. http://127.0.0.1:11434/v1 for Ollama);
                    without it the reply is a deterministic one that quotes the memories it used
    LLM_API_KEY     optional, sent as a bearer token to LLM_BASE_URL
    LLM_MODEL       the model to ask (default gpt-4o-mini)
    CHAT_PORT       where ``python examples/chat_with_memory.py`` serves (default 8001)
"""

import asyncio
import logging
import os
import re
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

# The SDK reports usage to Mem0 unless told not to; a self-hosted setup has no reason to.
os.environ.setdefault("MEM0_TELEMETRY", "false")

try:
    import httpx
    from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request
    from mem0 import AsyncMemoryClient
    from pydantic import BaseModel, Field
except ModuleNotFoundError as missing:  # examples/README.md, Setup
    sys.exit(f"{missing}. Install what the examples need first: .venv/bin/pip install -r examples/requirements.txt")

log = logging.getLogger("chat_with_memory")

# Messages that state a preference are stored under the "preferences" category, which the
# summary lists on its own. Everything else a user says about themselves is stored uncategorised.
PREFERENCE = re.compile(r"\b(love|like|prefer|enjoy|hate|dislike|can't stand|favou?rite|vegetarian|vegan)\b", re.I)


@dataclass(frozen=True)
class Settings:
    mem0g_url: str = "http://127.0.0.1:8000"
    mem0g_api_key: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = "gpt-4o-mini"
    memories_per_reply: int = 5
    min_score: float = 0.1  # relevance (0..1) a memory needs to be used in a reply
    memory_timeout: float = 5.0  # seconds a memory read may take; the chat goes on without it after that

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            mem0g_url=os.environ.get("MEM0G_URL", cls.mem0g_url).rstrip("/"),
            mem0g_api_key=os.environ.get("MEM0G_API_KEY", ""),
            llm_base_url=os.environ.get("LLM_BASE_URL", "").rstrip("/"),
            llm_api_key=os.environ.get("LLM_API_KEY", ""),
            llm_model=os.environ.get("LLM_MODEL", "") or cls.llm_model,
        )


class MemoryService:
    """The app's only door to mem0g. Every call is guarded: a memory server that is down, slow or
    refusing the key is logged and answered with "nothing remembered", never an exception."""

    def __init__(
        self, host: str, api_key: str, *, min_score: float = 0.1, timeout: float = 5.0, write_timeout: float = 60.0
    ):
        self.host = host
        self.api_key = api_key
        self.min_score = min_score
        self.timeout = timeout  # seconds a read may take before the chat goes on without it
        self.write_timeout = write_timeout  # the same for the background write, which nobody waits for
        self._client: AsyncMemoryClient | None = None

    async def connect(self) -> bool:
        """Create the SDK client. Returns whether the memory server answered; the app starts either
        way and tries again on the next call."""
        try:
            # The SDK's constructor checks the key with a blocking request that has no time limit:
            # ask first with a bounded one, so a server that hangs cannot hold the app.
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                ping = await http.get(f"{self.host}/v1/ping/", headers={"Authorization": f"Token {self.api_key}"})
                ping.raise_for_status()
            self._client = await asyncio.to_thread(AsyncMemoryClient, api_key=self.api_key, host=self.host)
        except Exception as exc:
            log.warning("memory server %s unavailable: %s: %s", self.host, type(exc).__name__, exc)
            return False
        log.info("connected to memory server %s (project %s)", self.host, self._client.project_id)
        return True

    async def _sdk(self) -> AsyncMemoryClient | None:
        if self._client is None and not await self.connect():
            return None
        return self._client

    async def relevant(self, user_id: str, query: str, limit: int = 5) -> list[dict[str, Any]]:
        """The user's memories most related to ``query``, best first (empty when unavailable)."""
        client = await self._sdk()
        if client is None:
            return []
        try:
            found = await asyncio.wait_for(
                # latest_only: the facts that hold now (Mem0's reads also return superseded ones, marked).
                client.search(
                    query, filters={"user_id": user_id}, top_k=limit, threshold=self.min_score, latest_only=True
                ),
                self.timeout,
            )
        except Exception as exc:
            log.warning("memory search failed for user %s: %s: %s", user_id, type(exc).__name__, exc)
            return []
        return found.get("results", [])

    async def remember(self, user_id: str, messages: list[dict[str, str]], categories: list[str] | None = None):
        """Store an exchange; mem0g extracts the facts worth keeping. Meant for a background task."""
        client = await self._sdk()
        if client is None:
            log.warning("exchange of user %s not stored: memory server unavailable", user_id)
            return []
        try:
            added = await asyncio.wait_for(
                client.add(messages, user_id=user_id, categories=categories, metadata={"source": "chat"}),
                self.write_timeout,
            )
        except Exception as exc:
            log.warning("storing the exchange of user %s failed: %s: %s", user_id, type(exc).__name__, exc)
            return []
        stored = added.get("results", [])
        log.info("stored %d memories for user %s", len(stored), user_id)
        return stored

    async def summary(self, user_id: str) -> dict[str, Any] | None:
        """Counts, preferences and recent facts of a user, or None when the memory server is down."""
        client = await self._sdk()
        if client is None:
            return None
        try:
            digest = await asyncio.wait_for(client.get_summary(filters={"user_id": user_id}), self.timeout)
            preferences = await asyncio.wait_for(
                client.get_all(
                    filters={"user_id": user_id, "categories": {"in": ["preferences"]}},
                    page=1,
                    page_size=50,
                    latest_only=True,
                ),
                self.timeout,
            )
        except Exception as exc:
            log.warning("summary of user %s failed: %s: %s", user_id, type(exc).__name__, exc)
            return None
        return {
            "user_id": user_id,
            "total_memories": digest["total_memories"],
            "categories": digest["categories"],
            "preferences": [memory["memory"] for memory in preferences["results"]],
            "recent": [memory["memory"] for memory in digest["recent"]],
        }

    async def close(self):
        if self._client is not None:
            await self._client.async_client.aclose()


class Replier:
    """Builds the answer: an OpenAI-compatible chat completion when ``LLM_BASE_URL`` is set,
    otherwise (or when the LLM fails) a deterministic reply quoting the memories used."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def reply(self, message: str, memories: list[str]) -> tuple[str, bool]:
        """(reply, whether the LLM wrote it)."""
        if self.settings.llm_base_url:
            try:
                return await self._ask_llm(message, memories), True
            except Exception as exc:
                log.warning(
                    "LLM at %s failed, answering without it: %s: %s",
                    self.settings.llm_base_url,
                    type(exc).__name__,
                    exc,
                )
        return self.deterministic(message, memories), False

    @staticmethod
    def deterministic(message: str, memories: list[str]) -> str:
        if not memories:
            return f"I don't know anything about you yet. You said: \"{message}\". I'll remember what you tell me."
        quoted = "; ".join(f'"{memory}"' for memory in memories)
        return f'You asked: "{message}". What I remember about you that may help: {quoted}.'

    async def _ask_llm(self, message: str, memories: list[str]) -> str:
        known = "\n".join(f"- {memory}" for memory in memories) or "- (nothing yet)"
        system = f"You are a helpful assistant. What you remember about the user:\n{known}"
        headers = {"Authorization": f"Bearer {self.settings.llm_api_key}"} if self.settings.llm_api_key else {}
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(
                f"{self.settings.llm_base_url}/chat/completions",
                headers=headers,
                json={
                    "model": self.settings.llm_model,
                    "messages": [{"role": "system", "content": system}, {"role": "user", "content": message}],
                },
            )
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"].strip()


# Handed to the routes with Depends: the instances the lifespan created.
def get_memory_service(request: Request) -> MemoryService:
    return request.app.state.memory


def get_replier(request: Request) -> Replier:
    return request.app.state.replier


Memory = Annotated[MemoryService, Depends(get_memory_service)]
Reply = Annotated[Replier, Depends(get_replier)]


class ChatRequest(BaseModel):
    user_id: str = Field(min_length=1, max_length=100, pattern=r"^\S+$")
    message: str = Field(min_length=1, max_length=4000)


class UsedMemory(BaseModel):
    id: str
    memory: str
    score: float | None = None


class ChatResponse(BaseModel):
    reply: str
    memories_used: list[UsedMemory]
    llm: bool


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; ``settings`` default to the environment, read at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        config = settings or Settings.from_env()
        app.state.settings = config
        app.state.memory = MemoryService(
            config.mem0g_url, config.mem0g_api_key, min_score=config.min_score, timeout=config.memory_timeout
        )
        app.state.replier = Replier(config)
        await app.state.memory.connect()
        yield
        await app.state.memory.close()

    app = FastAPI(title="Chat with memory (mem0g example)", lifespan=lifespan)

    @app.post("/chat")
    async def chat(body: ChatRequest, background: BackgroundTasks, memory: Memory, replier: Reply) -> ChatResponse:
        found = await memory.relevant(body.user_id, body.message, limit=app.state.settings.memories_per_reply)
        text, by_llm = await replier.reply(body.message, [m["memory"] for m in found])
        exchange = [{"role": "user", "content": body.message}, {"role": "assistant", "content": text}]
        categories = ["preferences"] if PREFERENCE.search(body.message) else None
        background.add_task(memory.remember, body.user_id, exchange, categories)
        used = [UsedMemory(id=m["id"], memory=m["memory"], score=m.get("score")) for m in found]
        return ChatResponse(reply=text, memories_used=used, llm=by_llm)

    @app.get("/memories/summary")
    async def summary(user_id: str, memory: Memory) -> dict[str, Any]:
        digest = await memory.summary(user_id)
        if digest is None:
            raise HTTPException(status_code=503, detail="The memory server is unavailable")
        return digest

    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("CHAT_PORT", "8001")))
