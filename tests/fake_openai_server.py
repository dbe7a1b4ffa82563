"""A tiny OpenAI-compatible chat server on the loopback interface, for the teacher tests.

It answers ``POST /v1/chat/completions`` like a cooperative teacher, except when its failure
script says otherwise. The script is a list of actions consumed one per request, in order;
when it is empty every request is answered normally ("ok"). Actions:

    "ok"            a good answer
    "500"           HTTP 500
    "429"           HTTP 429 with ``Retry-After: <retry_after>``
    "401"           HTTP 401 with an OpenAI-style error body
    "400"           HTTP 400 (a request the server refuses)
    "slow"          sleeps ``slow_seconds`` before a good answer (the client should time out)
    "malformed"     HTTP 200 whose body is not JSON
    "no_choices"    HTTP 200 with ``"choices": []``
    "wrong_label"   a rationale whose last line names another action
    "no_label"      a rationale without a label line
    "partial"       (mining) only two valid names
    "numbered"      (mining) a numbered list with explanations, an unknown name and the anchor itself
    "prose"         (SUGAR knowledge) an answer without the JSON asked for

SUGAR knowledge questions (``Action: "<x>"``, text or with images) get a JSON object of the six
body parts and a summary, or a JSON list of the visual descriptions asked for.
Other good answers: a rationale ending in ``Label: <label>`` for requests carrying images (the label
is read from the prompt's ``Ground-truth action: "<label>"``, else its last ``Label: <label>``); for text-only requests a JSON
list of the first five candidates of a mining prompt (``Target action: "<x>"`` followed by
``- name`` lines). Every request is recorded in ``requests`` with the action applied.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABEL_RE = re.compile(r'Ground-truth action: "([^"]+)"')
# Fallback for prompts written elsewhere (skeletonllm.mllm.prompts.teacher_prompt): the label
# the prompt asks to end with.
FINAL_LABEL_RE = re.compile(r'Label: *([^\n"<>]+?) *$', re.MULTILINE)


def find_label(prompt: str) -> str | None:
    m = LABEL_RE.search(prompt)
    if m:
        return m.group(1)
    found = FINAL_LABEL_RE.findall(prompt)
    return found[-1] if found else None

TARGET_RE = re.compile(r'Target action: "([^"]+)"')
ACTION_RE = re.compile(r'^Action: "([^"]+)"', re.MULTILINE)
VISUAL_COUNT_RE = re.compile(r"Write (\d+) short visual descriptions")


def prompt_text(body: dict) -> str:
    """All text parts of the last user message."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if p.get("type") == "text")


def image_count(body: dict) -> int:
    content = body["messages"][-1]["content"]
    return 0 if isinstance(content, str) else sum(p.get("type") == "image_url" for p in content)


class FakeOpenAI:
    """Start with :meth:`start`, point a client at :attr:`base_url`, stop with :meth:`stop`."""

    def __init__(self, retry_after: float = 2.0, slow_seconds: float = 1.0):
        self.script: list[str] = []
        self.requests: list[dict] = []  # {"body", "headers", "action", "path"}
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._send(400, {"error": {"message": "request body is not JSON"}})
                with fake._lock:
                    action = fake.script.pop(0) if fake.script else "ok"
                    fake.requests.append({"body": body, "headers": dict(self.headers), "action": action,
                                          "path": self.path})
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                fake.handle(self, body, action)

            def _send(self, status: int, payload, headers: dict | None = None):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeOpenAI":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what the tests look at ----------------------------------------------------------

    def prompts(self) -> list[str]:
        return [prompt_text(r["body"]) for r in self.requests]

    def asked_labels(self) -> list[str]:
        """Ground-truth labels of every rationale request, in order (repeats included)."""
        return [label for p in self.prompts() if (label := find_label(p))]

    def asked_actions(self) -> list[str]:
        """Classes of every SUGAR knowledge request, in order (repeats included)."""
        return [m.group(1) for p in self.prompts() if (m := ACTION_RE.search(p))]

    def asked_targets(self) -> list[str]:
        """Anchors of every mining request, in order (repeats included)."""
        return [m.group(1) for p in self.prompts() if (m := TARGET_RE.search(p))]

    # -- answers ---------------------------------------------------------------------------

    def handle(self, h, body: dict, action: str) -> None:
        if action == "500":
            return h._send(500, {"error": {"message": "internal error"}})
        if action == "429":
            return h._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": str(self.retry_after)})
        if action == "401":
            return h._send(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
        if action == "400":
            return h._send(400, {"error": {"message": "image too large"}})
        if action == "malformed":
            return h._send(200, b'{"choices": [{"message": ')
        if action == "no_choices":
            return h._send(200, {"id": "x", "object": "chat.completion", "choices": []})
        if action == "slow":
            time.sleep(self.slow_seconds)
        text = prompt_text(body)
        if ACTION_RE.search(text):
            content = self.knowledge_answer(text, action)
        elif image_count(body):
            content = self.rationale(text, action)
        else:
            content = self.mining_answer(text, action)
        h._send(200, {"id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model"),
                      "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": content}}]})

    def rationale(self, prompt: str, action: str) -> str:
        label = find_label(prompt) or "unknown"
        text = (f"Summary: the person performs {label}.\n"
                "1. The right arm rises from the side.\n2. The hand moves towards the head.\n")
        if action == "wrong_label":
            return text + "Label: something else entirely"
        if action == "no_label":
            return text.rstrip()
        return text + f"**Label:**  {label.upper()} \n"

    def knowledge_answer(self, prompt: str, action: str) -> str:
        name = ACTION_RE.search(prompt).group(1)
        if action == "prose":
            return f"Sure! When someone does {name}, many body parts move."
        count = VISUAL_COUNT_RE.search(prompt)
        if count:
            n = int(count.group(1))
            return "```json\n" + json.dumps([f"view {i + 1}: a person doing {name}" for i in range(n)]) + "\n```"
        parts = ("head", "hands", "arms", "hips", "legs", "feet")
        answer = {"summary": f"A person performs {name}."}
        answer.update({p: f"The {p} move as in {name}." for p in parts})
        return "Here you go:\n" + json.dumps(answer)

    def mining_answer(self, prompt: str, action: str) -> str:
        m = TARGET_RE.search(prompt)
        target = m.group(1) if m else ""
        candidates = [line[2:].strip() for line in prompt.splitlines() if line.startswith("- ")]
        if action == "partial":
            return json.dumps(candidates[:2])
        if action == "numbered":
            lines = ["Here is my ranking:", "1. not an action at all - invented", f"2. {target} (itself)"]
            lines += [f"{i + 3}. {c.upper()} - similar arm motion" for i, c in enumerate(candidates[:5])]
            return "\n".join(lines)
        return "```json\n" + json.dumps(candidates[:5]) + "\n```"
