"""A small client for any OpenAI-compatible chat endpoint, used as the training teacher.

The teacher (GPT-4o in the paper, or any server speaking ``POST {base_url}/chat/completions``:
vLLM, llama.cpp, LM Studio, Azure-style proxies) answers two kinds of questions for the
curriculum (SPEC §5): which classes are most similar to a class (hard-negative mining), and
a label-conditioned causal rationale for a rendered clip (CR-Distill).

Paid answers are precious and servers are flaky, so the client retries what is worth
retrying (connection errors, timeouts, HTTP 408/409/429/5xx, a 200 whose body is not a
usable completion) with exponential back-off and jitter, honouring ``Retry-After``, and
fails at once with a clear :class:`TeacherError` on requests that can never succeed
(bad key, unknown model, malformed request). ``sleep`` is injectable so tests run fast.
"""
from __future__ import annotations

import base64
import email.utils
import io
import logging
import math
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import httpx
import numpy as np

from ..errors import ConfigError, SkeletonLLMError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o"  # the paper's teacher; used only with the default OpenAI endpoint
# Status codes worth asking again: the request was fine, the server was not (OpenAI's own
# client retries the same set).
RETRYABLE_STATUS = frozenset({408, 409, 429})


class TeacherError(SkeletonLLMError, RuntimeError):
    """The teacher endpoint could not give a usable answer.

    Attributes:
        status: the HTTP status of the last response, or ``None`` (connection error, bad body).
        retryable: ``True`` when the request itself was fine and retries ran out (server
            down, rate limits); ``False`` when asking again cannot help (bad key, bad request).
        url: the endpoint that was asked.
    """

    def __init__(self, message: str, status: int | None = None, retryable: bool = False, url: str = ""):
        self.status = status
        self.retryable = retryable
        self.url = url
        super().__init__(message)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying; ``retry_after`` in seconds if the server said."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(reason)


@dataclass
class TeacherStats:
    """Counters over the client's lifetime: HTTP requests sent, retries and their reasons."""

    requests: int = 0
    answers: int = 0
    retries: int = 0
    retry_reasons: dict[str, int] = field(default_factory=dict)


class TeacherClient:
    """OpenAI-compatible chat-completions client with retries.

    Args:
        base_url: e.g. ``https://api.openai.com/v1`` or ``http://localhost:8000/v1``; the
            client posts to ``{base_url}/chat/completions``.
        model: model name sent in every request.
        api_key: sent as ``Authorization: Bearer <key>``; ``None`` for local servers without auth.
        timeout: seconds per HTTP request (connect, read and write each).
        max_retries: retries after the first attempt (so ``max_retries + 1`` requests at most).
        backoff: first back-off delay in seconds; doubles every retry, capped at ``max_backoff``.
        jitter: relative jitter: each delay is multiplied by a factor in ``[1 - jitter, 1 + jitter]``
            so that many clients rate-limited together do not retry in lock-step.
        max_retry_after: cap on a server's ``Retry-After`` (seconds), against absurd values.
        temperature, max_tokens: sent when not ``None`` (some reasoning models reject them).
        extra_body: extra JSON fields merged into every request (e.g. ``{"seed": 0}``).
        headers: extra HTTP headers (e.g. ``{"api-key": ...}`` for Azure-style gateways).
        sleep: ``sleep(seconds)``; tests inject a recorder instead of ``time.sleep``.
        seed: seeds the jitter so back-off sequences are reproducible.
        transport: optional ``httpx`` transport (tests, proxies).
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 max_retries: int = 6, backoff: float = 1.0, max_backoff: float = 60.0, jitter: float = 0.25,
                 max_retry_after: float = 600.0, temperature: float | None = None, max_tokens: int | None = None,
                 extra_body: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None,
                 transport: httpx.BaseTransport | None = None):
        if not base_url:
            raise ConfigError("teacher", "base_url", "is empty")
        if not model:
            raise ConfigError("teacher", "model", "is empty")
        if max_retries < 0 or backoff < 0 or not 0 <= jitter < 1:
            raise ConfigError("teacher", "max_retries/backoff/jitter",
                              f"need max_retries >= 0, backoff >= 0, 0 <= jitter < 1; got {max_retries}, {backoff}, {jitter}")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.max_retry_after = max_retry_after
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra_body = dict(extra_body or {})
        self.sleep = sleep
        self.stats = TeacherStats()
        self._stats_lock = threading.Lock()  # the client may be shared by worker threads
        self._rng = random.Random(seed)
        hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            hdrs["Authorization"] = f"Bearer {api_key}"
        hdrs.update(headers or {})
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), headers=hdrs, transport=transport)

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 env: Mapping[str, str] | None = None, **kwargs) -> "TeacherClient":
        """Build a client from arguments, falling back to the environment.

        ``base_url``: ``SKELETONLLM_TEACHER_BASE_URL``, then ``OPENAI_BASE_URL``, then the
        OpenAI API. ``model``: ``SKELETONLLM_TEACHER_MODEL``; with the default OpenAI endpoint
        it defaults to the paper's ``gpt-4o``, any other endpoint must name its model.
        ``api_key``: ``SKELETONLLM_TEACHER_API_KEY``, then ``OPENAI_API_KEY`` (required only
        for the OpenAI endpoint; local servers often need none).
        """
        env = os.environ if env is None else env
        base_url = base_url or env.get("SKELETONLLM_TEACHER_BASE_URL") or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        api_key = api_key or env.get("SKELETONLLM_TEACHER_API_KEY") or env.get("OPENAI_API_KEY") or None
        model = model or env.get("SKELETONLLM_TEACHER_MODEL")
        is_openai = base_url.rstrip("/") == DEFAULT_BASE_URL
        if not model:
            if not is_openai:
                raise ConfigError("environment", "SKELETONLLM_TEACHER_MODEL",
                                  f"no teacher model given for endpoint {base_url}; pass --model or set the variable")
            model = DEFAULT_OPENAI_MODEL
        if is_openai and not api_key:
            raise ConfigError("environment", "SKELETONLLM_TEACHER_API_KEY",
                              "the OpenAI endpoint needs an API key; pass --api-key or set "
                              "SKELETONLLM_TEACHER_API_KEY (or OPENAI_API_KEY)")
        return cls(base_url, model, api_key=api_key, **kwargs)

    # -- requests -------------------------------------------------------------------------

    def ask(self, text: str, image_urls: Sequence[str] = (), system: str | None = None,
            detail: str | None = None) -> str:
        """One user turn (text, then images) -> the assistant's text."""
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append(user_message(text, image_urls, detail=detail))
        return self.chat(messages)

    def chat(self, messages: list[dict], **params) -> str:
        """Send ``messages`` (OpenAI chat format) and return the first choice's text.

        Retries as described in the module docstring; raises :class:`TeacherError` when a
        request cannot succeed or retries run out. ``params`` override request fields.
        """
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        body.update(self.extra_body)
        body.update(params)
        last: _Retry | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self._delay(attempt, last)
                with self._stats_lock:
                    self.stats.retries += 1
                    self.stats.retry_reasons[last.reason] = self.stats.retry_reasons.get(last.reason, 0) + 1
                log.warning("teacher %s: %s; retry %d/%d in %.1f s", self.url, last, attempt, self.max_retries, delay)
                self.sleep(delay)
            try:
                text = self._once(body)
            except _Retry as e:
                last = e
                continue
            with self._stats_lock:
                self.stats.answers += 1
            return text
        raise TeacherError(f"teacher {self.url} (model {self.model}): no usable answer after "
                           f"{self.max_retries + 1} attempts; last problem: {last}",
                           status=last.status if last else None, retryable=True, url=self.url)

    def _once(self, body: dict) -> str:
        with self._stats_lock:
            self.stats.requests += 1
        try:
            resp = self._http.post(self.url, json=body)
        except httpx.TimeoutException as e:
            raise _Retry(f"timeout ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise _Retry(f"connection error ({type(e).__name__}: {e})") from e
        status = resp.status_code
        if status in RETRYABLE_STATUS or status >= 500:
            raise _Retry(f"HTTP {status}", status=status, retry_after=_retry_after(resp.headers))
        if status >= 400:
            hint = {401: " (check the API key)", 403: " (the key may lack access to this model)",
                    404: " (check the base URL and model name)"}.get(status, "")
            raise TeacherError(f"teacher {self.url} refused the request with HTTP {status}{hint}: "
                               f"{_error_message(resp)}", status=status, retryable=False, url=self.url)
        try:
            data = resp.json()
        except ValueError:
            raise _Retry("malformed JSON in response", status=status) from None
        return _completion_text(data)

    def _delay(self, attempt: int, last: _Retry | None) -> float:
        if last is not None and last.retry_after is not None:
            return min(max(last.retry_after, 0.0), self.max_retry_after)
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        with self._stats_lock:
            u = self._rng.random()
        return base * (1.0 + self.jitter * (2.0 * u - 1.0))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "TeacherClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _completion_text(data: Any) -> str:
    """The first choice's message text; a body without one is retried (the server misbehaved)."""
    if not isinstance(data, dict):
        raise _Retry("response JSON is not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _Retry("response has no choices")
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        raise _Retry("response choice has no text content")
    return content


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (delta-seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        secs = float(value)
        return secs if math.isfinite(secs) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    except (ValueError, AttributeError):
        pass
    return resp.text[:500] or "(empty body)"


# -- messages and images --------------------------------------------------------------------

def user_message(text: str, image_urls: Sequence[str] = (), detail: str | None = None) -> dict:
    """An OpenAI user message: the text part, then one ``image_url`` part per image."""
    if not image_urls:
        return {"role": "user", "content": text}
    parts: list[dict] = [{"type": "text", "text": text}]
    for url in image_urls:
        image = {"url": url}
        if detail:
            image["detail"] = detail
        parts.append({"type": "image_url", "image_url": image})
    return {"role": "user", "content": parts}


def frames_to_data_urls(frames, contact_sheet: bool = False, columns: int | None = None,
                        gap: int = 4) -> list[str]:
    """Rendered frames -> PNG ``data:`` URLs for the chat API.

    Args:
        frames: ``(F, 3, H, W)`` tensor or array in ``[0, 1]`` (values outside are clipped).
        contact_sheet: tile all frames, in reading order, into one image (fewer image tokens
            and one request part; frames are separated by ``gap`` grey pixels so the teacher
            can tell them apart).
        columns: columns of the sheet; default ``ceil(sqrt(F))``.

    Returns:
        ``F`` URLs, or one URL with ``contact_sheet``.
    """
    from PIL import Image

    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    arr = np.asarray(frames, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"frames must have shape (F, 3, H, W) with F >= 1, got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError("frames contain NaN or infinite values")
    imgs = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)  # (F, H, W, 3)
    if contact_sheet:
        imgs = _tile(imgs, columns or math.ceil(math.sqrt(len(imgs))), gap)[None]
    urls = []
    for img in imgs:
        buf = io.BytesIO()
        Image.fromarray(img, "RGB").save(buf, format="PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return urls


def _tile(imgs: np.ndarray, columns: int, gap: int) -> np.ndarray:
    """``(F, H, W, 3)`` uint8 -> one ``(rows*H + gaps, columns*W + gaps, 3)`` sheet, grey between frames."""
    F, H, W, _ = imgs.shape
    columns = max(1, min(columns, F))
    rows = math.ceil(F / columns)
    sheet = np.full((rows * H + (rows - 1) * gap, columns * W + (columns - 1) * gap, 3), 128, np.uint8)
    for i, img in enumerate(imgs):
        r, c = divmod(i, columns)
        y, x = r * (H + gap), c * (W + gap)
        sheet[y:y + H, x:x + W] = img
    return sheet
