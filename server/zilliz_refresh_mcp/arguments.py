"""How tools read their arguments: the forms models send beside the schema's own, read as meant.

Each form here is unambiguous, so reading it costs the user nothing, while refusing it costs the conversation a
retry: ``null`` for an argument that has a default (the default), blanks around a name or an id (the name or id),
a job's ``detailsUri`` for its ``jobId`` (the id), and one string of state words for the ``state`` list
(``"failed, running"``: each word). The published input schemas are unchanged: these run before pydantic checks
the value, in the tool and in ``ArgumentGuard`` alike, and anything else is refused as before.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

from .records import DETAILS_URI_PREFIX


def defaulted(default: Any) -> BeforeValidator:
    """``null`` read as the argument's default: models often send null for an argument they leave alone."""
    return BeforeValidator(lambda value: default if value is None else value)


def _without_blanks(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _job_id(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return value.strip().removeprefix(DETAILS_URI_PREFIX)


_STATE_WORD = re.compile(r"[^\s,;|/\[\]\"'()]+")


def state_words(value: Any) -> Any:
    """``"failed, running"``, ``"[failed, running]"``, ``"failed or running"``: a list of its words."""
    if not isinstance(value, str):
        return value
    words = [word for word in _STATE_WORD.findall(value) if word.lower() not in ("or", "and")]
    return words or [value]


WithoutBlanks = BeforeValidator(_without_blanks)
JobIdForms = BeforeValidator(_job_id)
StateWords = BeforeValidator(state_words)
