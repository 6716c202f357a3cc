"""A small OpenAI-compatible chat server for tests: the one fake in the suite, standing in for a
remote LLM.

It answers ``POST /v1/chat/completions`` from a script: each request takes the next queued
:class:`Reply` (or, when the queue is empty, the result of ``responder(request)`` if one is set).
A reply can be a JSON value (sent as the message content, serialised), raw content (malformed
output), an HTTP error status, or a delay (to outlast the client's timeout). Every request it got
is kept in ``requests`` (the parsed body plus its headers) so tests can read the prompts.

    with LLMServer() as server:
        server.reply({"facts": [{"text": "User likes tea"}]})
        server.fail(500)
        server.stall(5)
        ... settings.LLM_BASE_URL = server.base_url ...
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How often serve_forever looks for a shutdown request: closing the server waits up to this long
# (socketserver's default, 0.5 s, cost every test half a second at tear-down).
POLL_SECONDS = 0.02


@dataclass
class Reply:
    content: Any = None  # a JSON value, sent serialised as the message content
    raw: str | None = None  # message content as is (for malformed output)
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    body: str | None = None  # the whole HTTP body as is (a broken envelope)


@dataclass
class Request:
    body: dict
    headers: dict = field(default_factory=dict)

    @property
    def system(self) -> str:
        return "\n".join(m["content"] for m in self.body.get("messages", []) if m.get("role") == "system")

    @property
    def user(self) -> str:
        return "\n".join(m["content"] for m in self.body.get("messages", []) if m.get("role") == "user")

    def user_json(self) -> Any:
        return json.loads(self.user)


class LLMServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.responder: Callable[[Request], Any] | None = None
        self.requests: list[Request] = []
        self.unscripted = 0  # requests that found neither a queued reply nor a responder
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name="llm-test-server",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # --- scripting -------------------------------------------------------------------------

    def reply(self, content: Any) -> LLMServer:
        self.replies.append(Reply(content=content))
        return self

    def reply_raw(self, raw: str) -> LLMServer:
        self.replies.append(Reply(raw=raw))
        return self

    def fail(self, status: int = 500, message: str | None = None) -> LLMServer:
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}) if message else None
        self.replies.append(Reply(status=status, body=body))
        return self

    def stall(self, seconds: float, content: Any = None) -> LLMServer:
        self.replies.append(Reply(content=content if content is not None else {}, delay=seconds))
        return self

    def broken_body(self, body: str) -> LLMServer:
        self.replies.append(Reply(body=body))
        return self

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()  # cuts stalled replies short
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- serving ---------------------------------------------------------------------------

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.replies:
                return self.replies.popleft()
            responder = self.responder
            if responder is None:
                self.unscripted += 1
                return Reply(status=500, body=json.dumps({"error": {"message": "no scripted reply"}}))
        answer = responder(request)
        return answer if isinstance(answer, Reply) else Reply(content=answer)

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall

            def log_message(self, format, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, json.dumps({"error": {"message": "body is not JSON"}}))
                    return
                request = Request(body=body, headers={k.lower(): v for k, v in self.headers.items()})
                reply = server._next(request)
                if reply.delay and server._stop.wait(reply.delay):
                    return
                if reply.body is not None:
                    self._send(reply.status, reply.body)
                elif reply.status >= 400:
                    self._send(reply.status, json.dumps({"error": {"message": f"scripted {reply.status}"}}))
                else:
                    content = reply.raw if reply.raw is not None else json.dumps(reply.content)
                    self._send(200, json.dumps(_completion(body.get("model", ""), content)))

            def _send(self, status: int, text: str) -> None:
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        return Handler


def _completion(model: str, content: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
