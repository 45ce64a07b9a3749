"""MCP wiring: the tools, resources and prompts, over a ZillizClient held for the server's lifetime.

Each handler validates its input, asks the ``RefreshJobs`` service, and turns typed failures into
errors a model can act on (``ToolError`` / resource errors). The logic lives in ``jobs`` and
``upstream``; nothing here parses upstream JSON.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from . import __version__
from .config import Settings, check_name
from .jobs import (
    JobListing,
    JobRecord,
    RecordError,
    build_listing,
    details_uri,
    listing_text,
    normalize_record,
)
from .upstream import UpstreamError, ZillizClient

DEFAULT_LIMIT = 20
MAX_LIMIT = 200
_INT64_MAX = 2**63 - 1
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

INSTRUCTIONS = """\
Answers questions about refresh jobs of Zilliz Cloud / Milvus external collections (collections that mirror
data from a volume or object storage): did a refresh finish, why did it fail, how far along is it.
- list_refresh_jobs: the jobs of a database or one collection, with exact counts, failures first and
  a one-line summary. Start here.
- zilliz://refresh-jobs/{jobId}: one job's full details.
Job ids are strings: quote them exactly, never round them."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class RefreshJobs:
    """The server's view of one cluster: validated questions in, normalized answers out."""

    client: ZillizClient
    default_db: str
    clock: Callable[[], int] = now_ms
    seen_job_ids: dict[str, None] = field(default_factory=dict)  # insertion-ordered set, for completions

    async def list(
        self,
        *,
        db_name: str | None,
        collection_name: str | None,
        states: list[str] | None,
        limit: int,
        cursor: str | None,
    ) -> JobListing:
        db = check_name(db_name or self.default_db, "dbName")
        collection = check_name(collection_name, "collectionName") if collection_name else None
        records = await self.client.list_jobs(db, collection)
        listing = build_listing(
            records,
            db_name=db,
            collection_name=collection,
            states=states,
            limit=limit,
            cursor=cursor,
            now_ms=self.clock(),
        )
        self._remember(job.job_id for job in listing.jobs)
        return listing

    async def describe(self, job_id: str) -> JobRecord | None:
        wire_id = parse_job_id(job_id)
        raw = await self.client.describe_job(wire_id)
        if raw is None:
            return None
        record = normalize_record(raw, now_ms=self.clock())
        self._remember([record.job_id])
        return record

    def _remember(self, job_ids: Any) -> None:
        for job_id in job_ids:
            self.seen_job_ids.pop(job_id, None)
            self.seen_job_ids[job_id] = None
        while len(self.seen_job_ids) > 1000:
            del self.seen_job_ids[next(iter(self.seen_job_ids))]


def parse_job_id(job_id: str) -> int | str:
    """A decimal int64 goes upstream as an exact integer; a plain id as given; anything else is refused."""
    if job_id.isascii() and job_id.isdigit():
        value = int(job_id)
        if value > _INT64_MAX:
            raise ValueError(f"jobId {job_id} is larger than an int64 ({_INT64_MAX})")
        return value
    if _PLAIN_ID.fullmatch(job_id):
        return job_id
    shown = job_id if len(job_id) <= 40 else job_id[:40] + "..."
    raise ValueError(
        f"jobId {shown!r} is not a job id: use the decimal digits of jobId from list_refresh_jobs "
        "(or a plain id of letters, digits, '-' and '_')"
    )


def upstream_failure(err: UpstreamError, what: str, *, db: str | None = None, collection: str | None = None) -> str:
    """The tool-error text: what failed, the code or status, and what to do (naming the db/collection)."""
    if err.code == 800 and db:
        err.hint = f"Database {db!r} does not exist on this cluster; check dbName (default: ZILLIZ_DB_NAME)."
    elif err.code == 100 and collection:
        err.hint = (
            f"Collection {collection!r} does not exist in database {db!r}; check collectionName, or omit it "
            "to list every external collection."
        )
    return f"Could not {what}: {err.detail}"


def _listing_result(listing: JobListing) -> CallToolResult:
    content: list[Any] = [TextContent(type="text", text=listing_text(listing))]
    content.extend(
        ResourceLink(
            type="resource_link",
            uri=job.details_uri,
            name=f"refresh job {job.job_id}",
            description=f"{job.state} {job.collection_name or ''}".strip(),
            mime_type="application/json",
        )
        for job in listing.jobs
    )
    return CallToolResult(content=content, structured_content=listing.model_dump(mode="json", by_alias=True))


@asynccontextmanager
async def _lifespan_for(settings: Settings, clock: Callable[[], int]) -> AsyncIterator[RefreshJobs]:
    async with ZillizClient(
        endpoint=settings.cluster_endpoint or "",
        token=settings.token_value,
        timeout_seconds=settings.timeout_seconds,
        max_attempts=settings.max_attempts,
        rate_limit_per_second=settings.rate_limit_per_second,
        max_response_bytes=settings.max_response_mb * 1024 * 1024,
    ) as client:
        yield RefreshJobs(client=client, default_db=settings.db_name, clock=clock)


def build_server(settings: Settings, *, clock: Callable[[], int] = now_ms) -> MCPServer[RefreshJobs]:
    """The MCP server for ``settings``; the upstream client opens when the server starts."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[RefreshJobs]) -> AsyncIterator[RefreshJobs]:
        async with _lifespan_for(settings, clock) as service:
            yield service

    mcp: MCPServer[RefreshJobs] = MCPServer(
        "zilliz-refresh-mcp",
        title="Zilliz refresh jobs",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
    )

    def service_of(ctx: Context[RefreshJobs, Any]) -> RefreshJobs:
        return ctx.request_context.lifespan_context

    @mcp.tool(
        name="list_refresh_jobs",
        title="List external-collection refresh jobs",
        description=(
            "List the refresh jobs of Zilliz Cloud / Milvus external collections in a database, or of one "
            "collection. Use it to answer whether a refresh finished, failed (and why), or how far along it is. "
            "Returns exact counts per state, a short summary sentence, and the jobs ordered failed first, then "
            "in progress, then pending, then completed, newest first; long lists come in pages with a cursor."
        ),
        annotations=ToolAnnotations(
            title="List external-collection refresh jobs",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=True,
        ),
    )
    async def list_refresh_jobs(
        ctx: Context[RefreshJobs, Any],
        dbName: Annotated[
            str | None,
            Field(
                description="Database to look in. Omit to use the server's configured database (usually `default`).",
                max_length=255,
            ),
        ] = None,
        collectionName: Annotated[
            str | None,
            Field(
                description="External collection, e.g. `ext_books`. Omit or leave empty for every external "
                "collection in the database.",
                max_length=255,
            ),
        ] = None,
        state: Annotated[
            list[str] | None,
            Field(
                description="Only jobs in these states: RefreshFailed, RefreshInProgress, RefreshPending, "
                "RefreshCompleted (short forms like `failed` or `running` work too). Omit for all.",
                max_length=8,
            ),
        ] = None,
        limit: Annotated[
            int,
            Field(ge=1, le=MAX_LIMIT, description=f"Most jobs to return in this page (1-{MAX_LIMIT})."),
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Field(description="page.nextCursor from a previous answer, to get the next page.", max_length=2048),
        ] = None,
    ) -> Annotated[CallToolResult, JobListing]:
        service = service_of(ctx)
        try:
            listing = await service.list(
                db_name=dbName,
                collection_name=collectionName or None,
                states=state,
                limit=limit,
                cursor=cursor,
            )
        except UpstreamError as err:
            failure = upstream_failure(
                err, "list refresh jobs", db=dbName or service.default_db, collection=collectionName
            )
            raise ToolError(failure) from None
        except RecordError as err:
            raise ToolError(f"Upstream sent a job record this server cannot read: {err}.") from None
        except ValueError as err:
            raise ToolError(f"Invalid argument: {err}.") from None
        return _listing_result(listing)

    @mcp.resource(
        "zilliz://refresh-jobs/{jobId}",
        name="refresh-job",
        title="Refresh job details",
        description="One external-collection refresh job, in the same record shape as list_refresh_jobs.",
        mime_type="application/json",
    )
    async def refresh_job(jobId: str, ctx: Context[RefreshJobs, Any]) -> str:
        try:
            record = await service_of(ctx).describe(jobId)
        except ValueError as err:
            if isinstance(err, RecordError):
                raise ResourceError(f"Upstream sent a job record this server cannot read: {err}.") from None
            raise ResourceNotFoundError(str(err)) from None
        except UpstreamError as err:
            if err.code is not None and "not found" in str(err).lower():
                raise ResourceNotFoundError(
                    f"No refresh job {jobId} on this cluster ({err}, code {err.code}). "
                    "Use list_refresh_jobs to find job ids."
                ) from None
            raise ResourceError(upstream_failure(err, f"read refresh job {jobId}")) from None
        if record is None:
            raise ResourceNotFoundError(
                f"No refresh job {jobId} on this cluster. Use list_refresh_jobs to find job ids."
            )
        return json.dumps(record.model_dump(mode="json", by_alias=True))

    return mcp


__all__ = ["INSTRUCTIONS", "RefreshJobs", "build_server", "details_uri", "parse_job_id"]
