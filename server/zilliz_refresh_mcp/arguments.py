"""How tools read their arguments: the forms models send beside the schema's own, read as meant.

Each form here is unambiguous, so reading it costs the user nothing, while refusing it costs the conversation a
retry: ``null`` for an argument that has a default (the default), blanks around a name or an id (the name or id),
a job's ``detailsUri`` for its ``jobId`` (the id), and one string of states for the ``state`` list
(``"failed, in progress"``: each state). The published input schemas are unchanged: these run before pydantic checks
the value, in the tool and in ``ArgumentGuard`` alike, and anything else is refused as before.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

from .records import DETAILS_URI_PREFIX
from .states import names_a_state


def defaulted(default: Any) -> BeforeValidator:
    """``null`` read as the argument's default: models often send null for an argument they leave alone."""
    return BeforeValidator(lambda value: default if value is None else value)


def _without_blanks(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _job_id(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    given = value.strip()
    if given[: len(DETAILS_URI_PREFIX)].lower() == DETAILS_URI_PREFIX:
        given = given[len(DETAILS_URI_PREFIX) :].strip()
    return given or value  # nothing left: refused as sent


def as_read(value: Any) -> Any:
    """A string as the readers leave it before its length is checked: without the blanks around it, or a job's
    ``detailsUri`` before its id. (A name never starts with that URI; if one did, the tool would refuse it.)"""
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
