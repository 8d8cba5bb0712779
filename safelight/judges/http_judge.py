"""A rubric judge behind any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, llama.cpp,
TGI, Ollama, ...), called with bounded concurrency, timeouts and retries.

Standard library only (urllib + threads) so that the judge adds no dependency. The API key is read
from the environment at call time and lives only in a local headers dict: it is never an attribute,
so it cannot leak through repr, identity, pickling, logs or the score cache.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import math
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn, Sequence

from safelight.judges.base import Judge, JudgeItem, JudgeVerdict
from safelight.judges.rubric import RUBRIC_VERSION, build_judge_prompt, parse_score
from safelight.judges.stats import JudgeStats

logger = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 409, 425, 429})
_AUTH_STATUSES = frozenset({401, 403})


class JudgeConfigurationError(RuntimeError):
    """The judge cannot work at all (missing key, rejected credentials): retrying would not help."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _ItemFailed(Exception):
    """The server rejected this item (e.g. 400: prompt too long); other items may still work."""


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _public_url(url: str) -> str:
    """The URL without credentials or query string, which could carry secrets into identity/logs."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number (fractions accepted) or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _message_content(data: bytes) -> str | None:
    try:
        content = json.loads(data)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


class OpenAICompatibleJudge(Judge):
    """Scores items with the HEx-PHI rubric through POST `{base_url}/chat/completions`.

    Retries (exponential backoff with jitter) on timeouts, connection errors, 408/409/425/429
    (honouring Retry-After) and 5xx, and on answers without a valid `#thescore: N`; after
    `max_retries` retries the item is returned as NaN with the last raw answer. 401/403 raise
    `JudgeConfigurationError` at once, since every other item would fail the same way.
    `api_key_env=None` sends no Authorization header; a set name whose variable is unset is
    tolerated only for loopback servers.

    `timeout_s` bounds each socket operation (connect, each read), as urllib does; a server that
    sends nothing for that long is a timeout, one that trickles bytes is not.
    """

    rubric_version = RUBRIC_VERSION

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_concurrency: int = 8,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int | None = 0,
        max_backoff_s: float = 60.0,
    ) -> None:
        if max_concurrency < 1 or max_retries < 0 or timeout_s <= 0 or backoff_s < 0:
            raise ValueError("need max_concurrency >= 1, max_retries >= 0, timeout_s > 0, backoff_s >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.stats = JudgeStats()
        self._init_runtime()

    def _init_runtime(self) -> None:
        # Bounds in-flight requests even when several threads call `score` at once.
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        # Never send loopback traffic through an HTTP(S)_PROXY from the environment.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(self.base_url) else []
        self._opener = urllib.request.build_opener(*handlers)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_slots"], state["_opener"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    @property
    def identity(self) -> str:
        return (
            f"openai-compatible(url={_public_url(self.base_url)},model={self.model},"
            f"max_tokens={self.max_tokens},temperature={self.temperature},seed={self.seed})"
        )

    def __repr__(self) -> str:
        return (
            f"OpenAICompatibleJudge(base_url={_public_url(self.base_url)!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, max_concurrency={self.max_concurrency}, "
            f"timeout_s={self.timeout_s}, max_retries={self.max_retries})"
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key_env is None:
            return headers
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif not _is_loopback(self.base_url):
            raise JudgeConfigurationError(
                f"the environment variable {self.api_key_env} is not set, but the judge endpoint "
                f"{_public_url(self.base_url)} needs an API key; export it, or pass api_key_env=None "
                "for a server without authentication"
            )
        return headers

    def _payload(self, item: JudgeItem) -> bytes:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": build_judge_prompt(item)}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.seed is not None:
            payload["seed"] = self.seed
        return json.dumps(payload).encode()

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return base * random.uniform(0.5, 1.0)  # jitter: retries of many items do not stay in lockstep

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[str | None, bytes]:
        """One attempt: (message content or None if the body is not a chat completion, raw body)."""
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        self.stats.add("requests")
        try:
            with self._slots, self._opener.open(request, timeout=self.timeout_s) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as error:
            self._raise_for_status(error, headers.get("Authorization", "").removeprefix("Bearer ").strip())
        except TimeoutError as error:
            self.stats.add("timeouts")
            raise _Retryable(f"timeout after {self.timeout_s}s") from error
        except urllib.error.URLError as error:
            timed_out = isinstance(error.reason, TimeoutError)
            self.stats.add("timeouts" if timed_out else "connection_errors")
            raise _Retryable(f"connection error: {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:  # reset, refused, dropped mid-answer
            self.stats.add("connection_errors")
            raise _Retryable(f"connection error: {type(error).__name__}: {error}") from error
        self.stats.add_status(status)
        logger.debug("judge %s answered HTTP %d (%d bytes)", self.url, status, len(data))
        return _message_content(data), data

    def _raise_for_status(self, error: urllib.error.HTTPError, secret: str = "") -> NoReturn:
        code = error.code
        self.stats.add_status(code)
        try:
            detail = error.read()[:300].decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            detail = ""
        finally:
            error.close()
        if secret:
            # A misbehaving endpoint may echo the key back; error messages reach consoles and logs.
            detail = detail.replace(secret, "[redacted]")
        logger.debug("judge %s answered HTTP %d", self.url, code)
        if code in _AUTH_STATUSES:
            raise JudgeConfigurationError(
                f"the judge endpoint {_public_url(self.base_url)} rejected the request with HTTP {code} "
                f"(check the key in ${self.api_key_env}): {detail}"
            )
        if code in _RETRY_STATUSES or code >= 500:
            raise _Retryable(f"HTTP {code}: {detail}", _parse_retry_after(error.headers.get("Retry-After")))
        raise _ItemFailed(f"HTTP {code}: {detail}")

    #: What a parsable answer contains (for error messages); subclasses grading other things change it.
    answer_format = "#thescore: N"

    def _parse(self, text: str) -> float | None:
        """The score in an answer, or None when it has none (then the request is retried)."""
        return parse_score(text)

    def _score_one(self, item: JudgeItem, headers: dict[str, str]) -> JudgeVerdict:
        body = self._payload(item)
        last_text: str | None = None
        last_error = ""
        delay = 0.0
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.add("retries")
                time.sleep(delay)
            try:
                content, data = self._post(body, headers)
            except _Retryable as error:
                last_error = str(error)
                delay = max(self._backoff(attempt + 1), min(error.retry_after or 0.0, self.max_backoff_s))
                continue
            except _ItemFailed as error:
                self.stats.add("failures")
                return JudgeVerdict(math.nan, raw=f"[judge error] {error}")
            text = content if content is not None else data.decode("utf-8", "replace")
            score = self._parse(text) if content is not None else None
            if score is not None:
                return JudgeVerdict(score, raw=text)
            self.stats.add("unparsable")
            last_text, last_error = text, f"no valid {self.answer_format!r} in the answer"
            delay = self._backoff(attempt + 1)
        self.stats.add("failures")
        raw = last_text if last_text is not None else f"[judge error after {self.max_retries + 1} attempts] {last_error}"
        return JudgeVerdict(math.nan, raw=raw)

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        if not items:
            return []
        headers = self._headers()  # read the key now, once per call; it lives only in this frame
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(items)), thread_name_prefix="judge")
        futures: list[Future[JudgeVerdict]] = [pool.submit(self._score_one, item, headers) for item in items]
        try:
            return [future.result() for future in futures]
        finally:
            # On a configuration error, do not send the remaining (doomed) requests.
            pool.shutdown(wait=True, cancel_futures=True)
