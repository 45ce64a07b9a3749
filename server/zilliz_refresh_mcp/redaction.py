"""The token never leaves this process: how answers and messages are cleaned of it, and cheaply.

``redact`` and ``redact_json`` blank the secret (and the password of ``user:password``, as a word) in
text and in parsed JSON. ``SecretScan`` reads an answer's bytes as they arrive and says whether any
string in them may spell a piece of the secret; when it cannot, the answer skips ``redact_json``.
``may_show_secret`` asks the same of records already decoded.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

import msgspec

from .records import WireRecord, map_strings

# Self-hosted Milvus's documented default login. Its password hides nothing, and blanking it alone would
# turn every "Milvus ..." in an error message into "*** ..."; the whole token stays hidden.
_PUBLIC_LOGINS = frozenset({"root:Milvus"})


def _password(secret: str) -> str:
    """The password of ``user:password``, when it can be told from ordinary text (4 characters or more).

    The user name is not a secret: blanking it ("root") would garble collection names and messages
    ("ext_rootfs", "rootcoord") and hide nothing.
    """
    _, sep, password = secret.partition(":")
    return password if sep and len(password) >= 4 and secret not in _PUBLIC_LOGINS else ""


# What URL-encoders leave as it is besides letters and digits: RFC 3986 strict (Python's quote(safe="")),
# Python's quote() default (keeps "/"), JavaScript's encodeURIComponent; quote_plus also writes a space as "+".
_URL_SAFE_SETS = ("", "/", "!~*'()")


def _spellings(text: str) -> list[str]:
    """Other ways an echo may write ``text``: URL-encoded by the common encoders, upper- or lower-case hex (in a
    query, a redirect or a cookie), and with backslashes doubled (a repr)."""
    encoded = [quote(text, safe=safe) for safe in _URL_SAFE_SETS] + [quote_plus(text, safe=safe) for safe in ("", "/")]
    forms = [*encoded, *map(_lower_hex, encoded), text.replace("\\", "\\\\")]
    return [form for form in dict.fromkeys(forms) if form != text]


def _lower_hex(quoted: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), quoted)


def _everywhere(secret: str) -> list[str]:
    """What is blanked wherever it appears: the secret and its other spellings, and those of the password."""
    if not secret:
        return []
    password = _password(secret)
    return [secret, *_spellings(secret), *(_spellings(password) if password else [])]


@functools.lru_cache(maxsize=8)
def _secret_pieces(secret: str) -> tuple[str, ...]:
    """Every string whose presence in an answer means it must be cleaned (worked out once per secret)."""
    password = _password(secret)
    return (*_everywhere(secret), *([password] if password else []))


# The documented field names of the answers: public, never renamed for a password that is the same word ("data").
_FIELD_NAMES = frozenset(
    {"code", "message", "data", "records", "jobId", "collectionName", "state", "progress"}
    | {"externalSource", "externalSpec", "startTime", "endTime", "reason"}
)
_WORD = "A-Za-z0-9_"


class _Blanker:
    """Replaces the secret by ``***`` wherever it appears; and the password of ``user:password`` where it
    stands as a word of its own, never inside a longer word, name or number, nor as a documented field name.

    A password can be an everyday word ("Refresh", "data", "1234"): blanked everywhere, it renamed the
    field ``data``, turned "RefreshFailed" into "***Failed" (so failures went uncounted) and cut job ids.
    An echo of it alone stands apart from letters and digits ("password=...", "user: ..."); an echo of the
    whole secret is blanked wherever it is.
    """

    def __init__(self, secret: str) -> None:
        self._everywhere = _everywhere(secret)
        self.active = bool(self._everywhere)
        self._password = password = _password(secret)
        # A word boundary only where the password itself begins or ends with a word character.
        before = f"(?<![{_WORD}])" if password[:1].isalnum() or password[:1] == "_" else ""
        after = f"(?![{_WORD}])" if password[-1:].isalnum() or password[-1:] == "_" else ""
        self._word = re.compile(before + re.escape(password) + after)

    def text(self, text: str) -> str:
        return self._as_word(self._whole(text))

    def key(self, key: str) -> str:
        """A field name: the whole secret is blanked in any; the password as a word, in all but the documented."""
        key = self._whole(key)
        return key if key in _FIELD_NAMES else self._as_word(key)

    def _whole(self, text: str) -> str:
        for piece in self._everywhere:
            if piece in text:
                text = text.replace(piece, "***")
        return text

    def _as_word(self, text: str) -> str:
        return self._word.sub("***", text) if self._password and self._password in text else text

    def json_text(self, text: str) -> str:
        """``text`` cleaned; and, when it is itself JSON with escapes (``externalSource`` is JSON in a string,
        and Go writes ``&`` as ``\\u0026``), cleaned of what those escapes spell once it is decoded."""
        text = self.text(text)
        if "\\" not in text or text.lstrip()[:1] not in ("{", "["):
            return text
        try:
            inner = json.loads(text)
        except (ValueError, RecursionError):
            return text
        return json.dumps(map_strings(inner, self.json_text, self.key))  # non-ASCII stays escaped, as it came


@functools.lru_cache(maxsize=8)
def _blanker(secret: str) -> _Blanker:
    """One per secret: the log handler redacts every line, and building one encodes and compiles."""
    return _Blanker(secret)


def redact(text: str, secret: str) -> str:
    """``text`` with the secret, and the password of a ``user:password`` secret as a word, replaced by ``***``."""
    return _blanker(secret).text(text)


def redact_json(value: Any, secret: str) -> Any:
    """Parsed JSON with ``redact`` applied to every string, keys included but for the documented field names
    (in place; any depth)."""
    blanker = _blanker(secret)
    return map_strings(value, blanker.json_text, blanker.key) if blanker.active else value


def _escapable(piece: str, escaped: str) -> bool:
    """Whether JSON text could spell ``piece`` other than literally, where ``escaped`` may be written escaped."""
    return not piece.isprintable() or any(c in piece for c in escaped)


_UNICODE_ESCAPE = re.compile(rb"\\u")  # faster than `b"\\u" in raw` when raw has many backslashes


class SecretScan:
    """Whether any string decoded from an answer's JSON text may hold a piece of the secret, read chunk by chunk.

    False lets the common answer skip ``redact_json`` (a walk over every string: ~45 ms for 10,000 jobs).
    A literal search is exact unless an escape could spell part of a piece: any ``\\u`` escape, or a piece
    holding a character that has a short escape (``"``, ``\\``, ``/``, controls); or unless the text is not
    UTF-8 (the standard parser also reads UTF-16 and UTF-32, which hold NULs). Fed while the answer is still
    arriving, its ~2 ms for a 2.3 MB answer are spent waiting for the network, not after it.
    """

    def __init__(self, secret: str) -> None:
        self._pieces, self.found, self._keep = _scan_plan(secret)
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self.found or not self._pieces:
            return
        window = self._tail + chunk
        if b"\x00" in window or _UNICODE_ESCAPE.search(window) or any(piece in window for piece in self._pieces):
            self.found = True
        self._tail = window[-self._keep :]


@functools.lru_cache(maxsize=8)
def _scan_plan(secret: str) -> tuple[tuple[bytes, ...], bool, int]:
    """``SecretScan``'s pieces as bytes, whether escapes alone rule a literal search out, and the bytes a
    match may reach back into the previous chunk; worked out once per secret, not once per answer."""
    pieces = _secret_pieces(secret)
    encoded = tuple(piece.encode() for piece in pieces)
    escapable = any(_escapable(piece, '"\\/') for piece in pieces)  # JSON text may write / as \/
    return encoded, escapable, max([2, *map(len, encoded)]) - 1


_ENCODER = msgspec.json.Encoder()


def may_show_secret(records: list[WireRecord], secret: str) -> bool:
    """False only when no string of ``records`` can contain a piece of ``secret``.

    Re-encoded by msgspec, every string appears literally except for ``"``, ``\\`` and control
    characters, which no printable piece without quotes or backslashes holds: a literal search is
    exact (a match across two strings only makes it cautious). Asked only of answers that ``SecretScan``
    could not clear (a piece, a ``\\u`` escape or a NUL in the bytes): ~4 ms for 10,000 records.
    """
    pieces = _secret_pieces(secret)
    if not pieces:
        return False
    if any(_escapable(piece, '"\\') for piece in pieces):  # msgspec writes / as it is
        return True
    blob = _ENCODER.encode(records)
    # A backslash in a string (msgspec doubles it) may begin an escape of JSON inside it, as in externalSource.
    return b"\\\\" in blob or any(piece.encode() in blob for piece in pieces)
