"""Every error this server reports on purpose: one hierarchy, each class saying what the user can act on.

    ZillizRefreshError            an expected failure, told to the user or the model as one clear line
     ├── ConfigError              configuration the server cannot start with; names the variable to fix
     ├── InvalidArgument          an argument refused before anything goes upstream; states the rule
     │    └── CursorError         a continuation cursor this server did not hand out, or one of another question
     ├── JobNotFound              the cluster has no refresh job with this id
     ├── TooManyWatched           a subscription or a wait beyond what the server polls at once
     ├── RecordError              an upstream job record that cannot be read (a field of the wrong type)
     └── UpstreamError            anything that went wrong talking to the cluster
          ├── UpstreamUnreachable no answer: connection refused, DNS, TLS, timeout
          ├── UpstreamHTTPError   an HTTP status other than 200 (401, 403, 404, 429, 5xx...)
          ├── UpstreamAPIError    HTTP 200 with a non-zero body ``code``
          └── UpstreamBadResponse an answer that is not the documented JSON, or too large

An UpstreamError of any kind is retried when its ``transient`` flag is set (a timeout, a 503, an answer that
broke off), never because of its class. Anything else that escapes is a bug, and is reported as one, never
as the user's mistake. InvalidArgument and RecordError are also ValueErrors, and JobNotFound a LookupError,
so that pydantic validators and callers that expect the built-in kinds keep working. ``quoted`` is how a
message shows the value it refuses: quoted, and ``shortened``. ``Code`` names the body codes an UpstreamError
may carry.
"""

from __future__ import annotations

import re
from enum import IntEnum


class Code(IntEnum):
    """The body codes of the Milvus REST API that this server acts on, named as its reference describes them."""

    SERVICE_NOT_READY = 1
    SERVICE_UNAVAILABLE = 2
    TOO_MANY_REQUESTS = 4  # concurrent requests
    RATE_LIMITED = 8
    QUOTA_EXCEEDED = 9
    COLLECTION_NOT_FOUND = 100
    DATABASE_NOT_FOUND = 800
    INVALID_PARAMETER = 1100
    MISSING_PARAMETER = 1101
    NOT_AUTHENTICATED = 1400
    PRIVILEGE_DENIED = 1401
    USER_NOT_AUTHENTICATED = 1800  # with HTTP 401
    JSON_ONLY = 1801  # "can only accept JSON format request", also said of a body field of the wrong JSON type
    MISSING_PARAMETERS = 1802
    LIMITER_REJECTED = 1807
    TIMEOUT = 10001  # the cluster's own
    UNEXPECTED = 65535


class ZillizRefreshError(Exception):
    """An expected failure, told to the user or the model as one clear line."""


class ConfigError(ZillizRefreshError):
    """Configuration that the server cannot start with; the message names the variable."""

    def __init__(self, problem: str, *, setting: str | None = None, variable: str | None = None) -> None:
        super().__init__(f"{variable}: {problem}" if variable else problem)
        self.problem = problem
        self.setting = setting  # the setting at fault (``port``); None for settings that conflict
        self.variable = variable


class InvalidArgument(ZillizRefreshError, ValueError):
    """An argument refused before anything goes upstream; the message states the rule."""


class CursorError(InvalidArgument):
    """A continuation cursor that this server did not hand out, or one of another question."""


class JobNotFound(ZillizRefreshError, LookupError):
    """The cluster has no refresh job with this id."""


class TooManyWatched(ZillizRefreshError):
    """A subscription or a wait beyond what the server polls at once; the message says what to do instead."""


class RecordError(ZillizRefreshError, ValueError):
    """An upstream job record that cannot be read (missing id, wrong field type...)."""


class UpstreamError(ZillizRefreshError):
    """Anything that went wrong talking to the cluster."""

    def __init__(
        self,
        message: str,
        *,
        route: str,
        status: int | None = None,
        code: int | None = None,
        hint: str | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        sent: bool = True,
        upstream_message: str | None = None,
    ) -> None:
        self.route = route
        self.status = status
        self.code = code
        self.hint = hint
        self.transient = transient
        self.retry_after = retry_after
        self.sent = sent  # False only when no connection was made, so no byte of the request left
        # The cluster's own words (redacted), apart from ours around them: what "job not found" is read from.
        self.upstream_message = upstream_message
        self.attempts = 1
        self.suggestion: str | None = None  # what the caller may have meant, told after the hint
        super().__init__(message)

    @property
    def detail(self) -> str:
        """The message with the code/status and the hint, as one line for a person or a model."""
        return self.explain()

    def wait_beyond(self, seconds: float) -> float | None:
        """Upstream's Retry-After when it asks for a longer wait than ``seconds``; else None."""
        return self.retry_after if self.retry_after is not None and self.retry_after > seconds else None

    def explain(self, hint: str | None = None) -> str:
        """``detail`` with another hint: one shared error can be told differently to each caller."""
        hint = hint or self.hint
        where = []
        if self.code is not None:
            where.append(f"code {self.code}")
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        text = str(self)
        if where:
            text += f" ({', '.join(where)})"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        text += "."
        if hint:
            text += " " + hint
        return text


class UpstreamUnreachable(UpstreamError):
    """No answer from the cluster: connection refused, DNS, TLS or timeout."""


class UpstreamHTTPError(UpstreamError):
    """The cluster (or a gateway before it) answered with an HTTP status other than 200."""


class UpstreamAPIError(UpstreamError):
    """The cluster answered HTTP 200 with a non-zero body code."""


class UpstreamBadResponse(UpstreamError):
    """The answer was not the documented JSON shape, or was too large."""


def shortened(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, with "..." where it was cut: what a message quotes may be huge."""
    return text if len(text) <= limit else text[:limit] + "..."


QUOTED_CHARS = 40


def quoted(value: str, limit: int = QUOTED_CHARS) -> str:
    """A refused value as its error message shows it: quoted, and cut at ``limit`` characters, fewer when their
    escapes (``\\x1f``, ``\\U0001f600``: up to ten characters each) would show more than twice that."""
    kept = value[:limit]
    while len(repr(kept)) - 2 > 2 * limit:
        kept = kept[:-1]
    return repr(kept + "..." if len(kept) < len(value) else kept)


# Control characters (a terminal's colour codes, a carriage return) and the marks that reorder text on screen.
_UNSEEN = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """``text`` as one line showing what it holds: line breaks and runs of spaces as one space, other control
    characters and bidirectional marks escaped (``\\x1b``, ``\\u202e``). What upstream writes is quoted in our
    messages: a line break or a colour code there could pass for more of ours (a traceback, a second message)."""
    return " ".join(_UNSEEN.sub(lambda match: match[0].encode("unicode_escape").decode(), text).split())
