"""Milvus names: the rule a database or collection name follows, and the name a misspelt one meant."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import InvalidArgument, quoted
from .reasons import text_bytes, within_bytes

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
NAME_RULE = "a letter or underscore first, then letters, digits and underscores, at most 255 characters"


# A Milvus name takes at most 255 bytes; a name that breaks the rule (upstream's, of emoji, bidi marks or control
# characters) may take seven times as many, and an answer names it in its summary, its text and its links.
SHOWN_NAME_BYTES = 120


def shown_name(name: str) -> str:
    """A collection's (or a state's) name as an answer's words show it: whole when it follows the Milvus rule; else
    within ``SHOWN_NAME_BYTES`` (``text_bytes``), by its two ends. It cannot be asked for by name anyway, and the jobs'
    records carry it whole."""
    return name if NAME_PATTERN.fullmatch(name) else within_bytes(name, SHOWN_NAME_BYTES, "...", text_bytes)


def check_name(value: str, what: str) -> str:
    """A Milvus database or collection name, or InvalidArgument with the rule."""
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidArgument(f"{what} {quoted(value)} is not a valid Milvus name: {NAME_RULE}")
    return value


def meant_name(asked: str, names: Sequence[str]) -> str | None:
    """The one name ``asked`` is a slip of: the same but for letter case and one typing slip (a letter missed,
    added or changed, or two neighbours swapped), or a part of it ("books" for "ext_books").

    Names that share a prefix are alike to a ratio (``ext_events``, ``ext_reviews``), and two letters tell
    words apart (``ext_moods``, ``ext_books``): a looser match would name another collection with confidence,
    for a question whose answer, or a refresh, would then be wrong. Without one, the caller lists the names.
    """
    folded = asked.casefold()
    near = [name for name in names if _one_slip_apart(folded, name.casefold())]
    if not near and len(folded) >= 4:
        near = [name for name in names if folded in name.casefold()]
    found = [name for name in near if name.casefold() == folded] or near  # a name the same but for case first
    return found[0] if len(found) == 1 else None


def _one_slip_apart(a: str, b: str) -> bool:
    """Whether ``a`` is ``b``, or ``b`` but for one letter missed, added or changed, or two neighbours swapped.

    Linear in the names' length: a wrong collectionName is checked against every name the cluster holds."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0  # past the common prefix and suffix, one slip leaves at most two characters on either side
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    rest_a, rest_b = a[start : len(a) - end], b[start : len(b) - end]
    if len(rest_a) <= 1 and len(rest_b) <= 1:  # one letter changed, missed or added
        return True
    return len(rest_a) == len(rest_b) == 2 and rest_a == rest_b[::-1]  # two neighbours swapped
