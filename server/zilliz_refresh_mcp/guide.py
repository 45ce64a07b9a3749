"""The troubleshooting prompt, and the short guide to refresh failures it draws on (refresh-failures.md)."""

from __future__ import annotations

from importlib.resources import files

from .jobs import LARGE_PAGE_BUDGET_BYTES
from .reasons import RECORD_REASON_CHARS

FAILURE_GUIDE = (files(__package__) / "refresh-failures.md").read_text(encoding="utf-8")


def troubleshooting_prompt(db_name: str, collection_name: str | None) -> str:
    """The prompt's text; ``db_name`` and ``collection_name`` must be valid Milvus names (checked by the caller)."""
    scope = f"collection {collection_name} in database {db_name}" if collection_name else f"database {db_name}"
    args = f'dbName="{db_name}"' + (f', collectionName="{collection_name}"' if collection_name else "")
    answer_kb = LARGE_PAGE_BUDGET_BYTES // 1000
    return f"""\
Troubleshoot the external-collection refresh jobs of {scope} on Zilliz Cloud / Milvus.

1. Call list_refresh_jobs with {args}, state=["failed"] and limit=20. Its summary counts and groups every
   failure by reason (failures[]) and tells current failures from history: failures[].notFixed counts the
   failures no later refresh has fixed, and a failed job marked fixedSince: true is history (a later refresh
   of its collection completed). Current failures come first, most recent first, then the fixed ones: to see
   each current failure, call again with the same arguments and page.nextCursor until a page shows a
   fixedSince: true job (or page.nextCursor is null). For a question about a time ("last night's refresh"),
   add since="24h", or the ISO time it names: only jobs active since then are listed and counted.
2. Focus on the current failures; for a question about a time, on every failure in that window, fixed since or
   not: it is the one the user asks about. Where a list cut a reason ("characters cut"), take one job of that
   reason and read its detailsUri (or call get_refresh_job with its jobId): its record has the reason whole up
   to {RECORD_REASON_CHARS:,} characters, past that by its two ends (get_refresh_job's answer, at most {answer_kb} kB,
   may cut one long in bytes further: it says so, and detailsUri has more).
   A group whose distinctReasons is above 1 holds reasons alike but for the paths, ids or times they name:
   one job shows it.
3. Explain each of those failures in plain words: which collection, when, what the reason means. Group jobs that
   share a reason. Say which a later refresh fixed (fixedSince: true); otherwise mention fixed failures only as
   history.
4. Suggest concrete fixes using the guide below. Where a reason matches nothing in the guide, say that it is
   not a known reason and quote it; do not guess.
5. Quote job ids exactly as strings. Offer to start a new refresh (refresh_external_collection, if available)
   only after the cause is fixed, and to wait for it with wait_for_refresh_job.

{FAILURE_GUIDE}"""
