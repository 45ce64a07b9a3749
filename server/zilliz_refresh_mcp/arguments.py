"""How tools read their arguments: the forms models send beside the schema's own, read as meant.

Each form here is unambiguous, so reading it costs the user nothing, while refusing it costs the conversation a
retry: ``null`` for an argument that has a default (the default), blanks around a name or an id (the name or id),
a job's ``detailsUri`` for its ``jobId`` (the id), an id in quotes or as a sentence writes it (``"job 4495..."``,
``#4495...``, with a full stop: the id), and one string of states for the ``state`` list
(``"failed, in progress"``: each state). The published input schemas are unchanged: these run before pydantic checks
the value, in the tool and in ``ArgumentGuard`` alike, and anything else is refused as before.

``since_ms`` reads the ``since`` argument once it is checked (a span back from now, or an ISO-8601 time): the
service calls it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BeforeValidator

from .errors import InvalidArgument, quoted
from .records import CLOCK_SKEW_MS, DETAILS_URI_PREFIX, EPOCH, iso_utc, iso_utc_second
from .states import names_a_state


def defaulted(default: Any) -> BeforeValidator:
    """``null`` read as the argument's default: models often send null for an argument they leave alone."""
    return BeforeValidator(lambda value: default if value is None else value)


def _without_blanks(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# Quotes kept from where the id was copied (a JSON string, a Markdown code span), typographic ones too.
_QUOTES = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019"}
# An id as a sentence or a list writes it: "job 449503829274509313", "#449503829274509313", "449503829274509313."
# "job" and "id" stand apart from the id (a space, "#" or ":"): "job123" may itself be a plain id.
_SAID_ID = re.compile(r"(?:job(?:\s*id)?(?:\s*[#:]\s*|\s+)|#)?(\d+)\.?", re.IGNORECASE)


def _job_id(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    given = value.strip()
    if len(given) >= 2 and _QUOTES.get(given[0]) == given[-1]:
        given = given[1:-1].strip()
    if given[: len(DETAILS_URI_PREFIX)].lower() == DETAILS_URI_PREFIX:
        given = given[len(DETAILS_URI_PREFIX) :].strip()
    if said := _SAID_ID.fullmatch(given):
        given = said[1]
    return given or value  # nothing left: refused as sent


def as_read(value: Any) -> Any:
    """A string as the readers leave it before its length is checked: without the blanks or quotes around it, a job's
    ``detailsUri`` or "job " before its id. (Any argument: a name so written is then refused by the tool's own
    check, never taken.)"""
    return _job_id(value) if isinstance(value, str) else value


# Between states: a comma and the like, or the word "or" / "and"; not a space, which "in progress" holds.
_BETWEEN_STATES = re.compile(r"[,;|/\[\]\"'()]|\s(?:or|and)\s", re.IGNORECASE)


def state_words(value: Any) -> Any:
    """``"failed, running"``, ``"[failed, in progress]"``, ``"failed or running"``: a list of the states it names.

    A part that names no state but whose words each do (``"failed running"``) is read as those words."""
    if not isinstance(value, str):
        return value
    states: list[str] = []
    for part in filter(None, (part.strip() for part in _BETWEEN_STATES.split(value))):
        words = part.split()
        states += words if not names_a_state(part) and all(map(names_a_state, words)) else [part]
    return states or [value]


WithoutBlanks = BeforeValidator(_without_blanks)
JobIdForms = BeforeValidator(_job_id)
StateWords = BeforeValidator(state_words)


_SPAN = re.compile(
    r"(?:(last|past)\s+)?(\d{1,9}(?:\.\d{1,3})?)?\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)(?:\s+ago)?",
    re.IGNORECASE,
)
_MILLISECOND = timedelta(milliseconds=1)
_SPAN_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# An ISO-8601 duration (PT24H, P7D, P1W), as a model told "ISO-8601" may write a span.
_ISO_SPAN = re.compile(
    r"P(?=\w)(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?=\d)(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6})S)?)?"
)


def since_ms(since: str, now_ms: int) -> int:
    """The time ``since`` names, in ms since the epoch: an ISO-8601 time (UTC when it gives no offset; a date is its
    midnight), or a span back from ``now_ms`` in whole seconds (``24h``, ``90 minutes``, ``past week``, ``7d``,
    ``2 weeks ago``, ``PT24H``).

    Models often do not know the time: a span lets them say "last night" without it. InvalidArgument for anything
    else, or for a time to come."""
    given = since.strip()
    if (span := _SPAN.fullmatch(given)) and (span[1] or span[2]):  # "past week" is one; a bare "m" is none
        if span[3] == "M":  # months, to some: said apart
            raise InvalidArgument(f"since {quoted(since)}: write minutes as m (90m), days as d (30d)")
        return _back(now_ms, float(span[2] or 1) * _SPAN_SECONDS[span[3][0].lower()])
    if iso_span := _ISO_SPAN.fullmatch(given.upper()):
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in iso_span.groups())
        return _back(now_ms, (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds)
    try:
        moment = datetime.fromisoformat(given)
        # Rounded up to the millisecond, as job times are written: "then or later" of a time between two is the
        # later one. Integer arithmetic: a float's product lands a whole millisecond off either side.
        at = -((EPOCH - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))) // _MILLISECOND)
    except ValueError:  # not a time
        raise InvalidArgument(
            f"since {quoted(since)} is neither an ISO-8601 time (2026-11-29T18:00:00Z) nor a span back from now "
            "(24h, 90m, 7d, PT24H)"
        ) from None
    if at > now_ms + CLOCK_SKEW_MS:
        raise InvalidArgument(
            f"since {iso_utc(at)} is after now ({iso_utc_second(now_ms)}): give a time in the past, or a "
            "span back from now such as 24h"
        )
    return max(0, at)


def _back(now_ms: int, seconds: float) -> int:
    """The time ``seconds`` before ``now_ms``, in whole seconds as the answer's asOf is."""
    return max(0, now_ms - now_ms % 1000 - round(seconds) * 1000)
