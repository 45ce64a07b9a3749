"""State names: the four states upstream documents, the words a model may use for them, and the filter.

A state that a newer cluster may add is spelled like the known ones (``RefreshPaused``) and passes
through verbatim; any other word that names no state is refused, so that a filter never matches
nothing in silence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import InvalidArgument, quoted
from .records import COMPLETED, FAILED, IN_PROGRESS, KNOWN_STATES, PENDING

_STATE_ALIASES = {
    "pending": PENDING,
    "queued": PENDING,
    "inprogress": IN_PROGRESS,
    "running": IN_PROGRESS,
    "processing": IN_PROGRESS,
    "completed": COMPLETED,
    "complete": COMPLETED,
    "succeeded": COMPLETED,
    "success": COMPLETED,
    "successful": COMPLETED,
    "failed": FAILED,
    "failure": FAILED,
    "error": FAILED,
    "errored": FAILED,
}
# A state a newer server may add is spelled like the four known ones ("RefreshPaused"), and passes through.
_STATE_SHAPE = re.compile(r"Refresh[A-Z][A-Za-z]*")


def _folded(name: str) -> str:
    """A state name without case, separators or the "Refresh" prefix: ``Refresh_Failed`` -> ``failed``."""
    return name.replace("_", "").replace("-", "").replace(" ", "").lower().removeprefix("refresh")


_EXACT_NAMES = frozenset(map(_folded, KNOWN_STATES))  # the four, as any case writes them


def alias_of(name: str) -> str | None:
    """The known state a word stands for (``running``, ``Refresh_Failed``, ``RefreshQueued``), else None."""
    return _STATE_ALIASES.get(_folded(name))


def names_a_state(name: str) -> bool:
    """Whether ``name`` is a known state in any spelling (``in progress``), or spelled like a newer cluster's."""
    return alias_of(name) is not None or _STATE_SHAPE.fullmatch(name) is not None


def canonical_state(name: str) -> str:
    """``failed``, ``Failed``, ``RefreshFailed``, ``refresh_failed`` -> ``RefreshFailed``; others verbatim.

    Any case and separators (``RefreshFAILED``, ``refresh-complete``). A name spelled like a state of a
    newer cluster (``RefreshQueued``) stays as given, even when its word is an alias ("queued"): it is
    that cluster's state, and ``state_filter`` lets it through. Any other name stays as given, to be refused.
    """
    folded = _folded(name)
    known = _STATE_ALIASES.get(folded)
    if known is None or (_STATE_SHAPE.fullmatch(name) and folded not in _EXACT_NAMES):
        return name
    return known


def state_filter(names: Sequence[str]) -> list[str]:
    """The states a ``state`` argument asks for, canonical and once each; a word that names no state is refused.

    Refused rather than passed through: "done" or "finished" would match nothing, and the answer
    "no refresh jobs in state done" would read as if nothing had finished.
    """
    for name in names:
        if not names_a_state(name):
            raise InvalidArgument(
                f"state {quoted(name)} is not a refresh-job state: use RefreshFailed, RefreshInProgress, "
                "RefreshPending or RefreshCompleted (or failed, running, pending, completed); a state that a newer "
                "cluster added goes by its exact name"
            )
    return list(dict.fromkeys(map(canonical_state, names)))
