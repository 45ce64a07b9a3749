"""The MCP surface through real in-memory client sessions, in both protocol eras, against the simulator."""

from __future__ import annotations

import json
import re
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import INVALID_PARAMS, ResourceLink, TextResourceContents

from zilliz_refresh_mcp.server import ServerState, build_server
from zilliz_refresh_mcp.service import POLL_GRACE_SECONDS, RefreshJobs
from zilliz_refresh_mcp.simulator import Fault, SimulatedCluster, SimulatorServer
from zilliz_refresh_mcp.upstream import DESCRIBE_ROUTE, LIST_ROUTE

from .conftest import FakeClock, settings_for, text_of

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.anyio
MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])


@MODES
async def test_tool_is_described_for_a_model(mcp_server: MCPServer[ServerState], mode: str) -> None:
    async with Client(mcp_server, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    tool = tools["list_refresh_jobs"]
    assert tool.title
    assert tool.description is not None and len(tool.description) >= 80
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is True
    assert tool.annotations.idempotent_hint is True
    assert tool.annotations.open_world_hint is True
    assert tool.annotations.destructive_hint is False
    properties = tool.input_schema["properties"]
    assert {"dbName", "collectionName"} <= set(properties)
    assert all(properties[name].get("description") for name in properties)
    assert tool.input_schema.get("required", []) == []
    assert tool.output_schema is not None
    out = tool.output_schema["properties"]
    assert {"dbName", "collectionName", "summary", "jobs"} <= set(out)


@MODES
async def test_list_answers_with_exact_ids_and_the_summary(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster, mode: str
) -> None:
    async with Client(mcp_server, mode=mode) as client:
        result = await client.call_tool("list_refresh_jobs", {})
    assert not result.is_error
    data = result.structured_content
    assert data is not None
    expected_ids = {str(job["jobId"]) for job in cluster.records("default")}
    assert {job["jobId"] for job in data["jobs"]} == expected_ids
    assert all(isinstance(job["jobId"], str) for job in data["jobs"])
    assert data["dbName"] == "default"
    assert data["collectionName"] is None
    assert data["summary"]["total"] == len(expected_ids)
    states = [job["state"] for job in data["jobs"]]
    assert states[:3] == ["RefreshFailed", "RefreshInProgress", "RefreshPending"]
    text = text_of(result)
    assert text.splitlines()[0] == f"{data['summary']['text']} As of {data['asOf']}."  # a text-only host's "now"
    assert all(job_id in text for job_id in expected_ids)
    links = [block for block in result.content if isinstance(block, ResourceLink)]
    assert [str(link.uri) for link in links] == [job["detailsUri"] for job in data["jobs"]]


async def test_resource_links_show_upstreams_control_characters_and_direction_marks_as_the_text_does(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    """A right-to-left override in a name would show "skoob_txe" in a host that lists the link."""
    record = {"jobId": 7, "collectionName": "ext_\u202eskoob", "state": "RefreshFailed\x1b[2J", "progress": 5}
    cluster.inject(Fault.raw(json.dumps({"code": 0, "data": {"records": [record]}})))
    async with Client(mcp_server) as client:
        result = await client.call_tool("list_refresh_jobs", {})
    [link] = [block for block in result.content if isinstance(block, ResourceLink)]
    assert link.description == "RefreshFailed\\x1b[2J ext_\\u202eskoob"
    assert "RefreshFailed\\x1b[2J ext_\\u202eskoob job 7" in text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["jobs"][0]["collectionName"] == "ext_\u202eskoob"  # kept exactly


async def test_two_refreshes_of_one_collection_whose_ids_a_gateway_rounded_alike_are_both_answered(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    """Over HTTP, as a JavaScript gateway writes them: ...313 (completed) and ...315 (running) both as ...300."""
    body = (
        '{"code":0,"data":{"records":['
        '{"jobId":449503829274509300,"collectionName":"ext_books","state":"RefreshCompleted","progress":100,'
        '"startTime":1712822000000,"endTime":1712825600000},'
        '{"jobId":449503829274509300,"collectionName":"ext_books","state":"RefreshInProgress","progress":30,'
        '"startTime":1712836400000,"endTime":0}]}}'
    )
    cluster.inject(Fault.raw(body))
    async with Client(mcp_server) as client:
        result = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_books"})
    data = result.structured_content
    assert data is not None and not result.is_error
    assert [(job["state"], job["progress"]) for job in data["jobs"]] == [
        ("RefreshInProgress", 30),
        ("RefreshCompleted", 100),
    ]
    assert data["summary"]["byState"]["RefreshInProgress"] == 1
    assert "Jobs of ext_books share job id 449503829274509300" in text_of(result)


async def test_structured_content_keeps_ids_as_strings_on_the_wire(mcp_server: MCPServer[ServerState]) -> None:
    async with Client(mcp_server, mode="legacy") as client:
        result = await client.call_tool("list_refresh_jobs", {})
    wire = result.model_dump_json(by_alias=True)
    assert '"jobId":"449503829274509313"' in wire.replace(" ", "")
    assert '"jobId":449503829274509313' not in wire.replace(" ", "")


async def test_request_body_and_auth_header(mcp_server: MCPServer[ServerState], cluster: SimulatedCluster) -> None:
    async with Client(mcp_server) as client:
        await client.call_tool("list_refresh_jobs", {})
        await client.call_tool("list_refresh_jobs", {"dbName": "analytics", "collectionName": "ext_events"})
        await client.call_tool("list_refresh_jobs", {"collectionName": ""})
    bodies = [request.body for request in cluster.requests if request.route == LIST_ROUTE]
    assert bodies == [
        {"dbName": "default"},
        {"dbName": "analytics", "collectionName": "ext_events"},
        {"dbName": "default"},
    ]
    assert {request.authorization for request in cluster.requests} == {f"Bearer {cluster.token}"}


async def test_one_collection(mcp_server: MCPServer[ServerState]) -> None:
    async with Client(mcp_server) as client:
        result = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_books"})
    data = result.structured_content
    assert data is not None
    assert data["collectionName"] == "ext_books"
    assert {job["collectionName"] for job in data["jobs"]} == {"ext_books"}
    assert data["summary"]["text"].startswith("2 refresh jobs for ext_books in default: 2 completed.")


async def test_running_jobs_advance_with_time(mcp_server: MCPServer[ServerState], clock: FakeClock) -> None:
    async with Client(mcp_server) as client:
        before = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_movies"})
        clock.advance(6 * 60)
        after = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_movies"})
    assert before.structured_content is not None and after.structured_content is not None
    assert before.structured_content["jobs"][0]["progress"] == 42
    assert after.structured_content["jobs"][0]["progress"] == 62


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"dbName": "nope"}, ["code 800", "'nope'", "dbName"]),
        ({"collectionName": "ext_missing"}, ["code 100", "'ext_missing'", "collectionName"]),
    ],
)
async def test_not_found_errors_name_what_is_missing(
    mcp_server: MCPServer[ServerState], arguments: dict[str, str], expected: list[str]
) -> None:
    async with Client(mcp_server) as client:
        result = await client.call_tool("list_refresh_jobs", arguments)
        assert result.is_error
        for fragment in expected:
            assert fragment in text_of(result)
        # the server keeps serving
        assert not (await client.call_tool("list_refresh_jobs", {})).is_error


@pytest.mark.parametrize("job_id", ["job-xxxx", "abc", "-x1"])
async def test_a_plain_id_on_a_cluster_of_numeric_ids_is_not_found(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster, job_id: str
) -> None:
    """Plain ids go upstream as given (the docs show "job-xxxx"); a cluster that takes only numbers has no such job."""
    async with Client(mcp_server) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"zilliz://refresh-jobs/{job_id}")
        waited = await client.call_tool("wait_for_refresh_job", {"jobId": job_id, "timeoutSeconds": 1})
        assert not (await client.call_tool("list_refresh_jobs", {})).is_error
    assert caught.value.error.code == INVALID_PARAMS  # resource not found, as for an unknown numeric id
    # What the README's table of faults quotes for job-xxxx, up to its "...".
    told = re.search(r"`(No refresh job 'job-xxxx' on this cluster[^`]*?)(?:\.\.\.)?`", README)
    assert told is not None
    for message in (caught.value.error.message, text_of(waited)):
        assert f"No refresh job {job_id!r} on this cluster, which refused the id" in message
        assert "int64" in message and "list_refresh_jobs" in message
        assert job_id != "job-xxxx" or told[1] in message, (told[1], message)
    assert waited.is_error
    assert [seen.body for seen in cluster.requests if seen.route == DESCRIBE_ROUTE] == [{"jobId": job_id}] * 2


async def test_a_job_id_a_javascript_number_rounded_is_told_so_with_the_ids_it_may_stand_for(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    async with Client(mcp_server) as client:
        listed = (await client.call_tool("list_refresh_jobs", {})).structured_content
        assert listed is not None
        ids = [job["jobId"] for job in listed["jobs"]]
        rounded = str(int(Decimal(repr(float(ids[0])))))  # as JavaScript prints a number: its shortest spelling
        assert rounded not in ids and float(rounded) == float(ids[0])
        waited = await client.call_tool("wait_for_refresh_job", {"jobId": rounded, "timeoutSeconds": 1})
        got = await client.call_tool("get_refresh_job", {"jobId": rounded})
        with pytest.raises(MCPError) as caught:
            await client.read_resource(f"zilliz://refresh-jobs/{rounded}")
        unknown = await client.call_tool("wait_for_refresh_job", {"jobId": "449503829274509999", "timeoutSeconds": 1})
    twins = [job_id for job_id in ids if float(job_id) == float(rounded)]
    assert twins  # the demo's ids are close enough to round alike
    for message in (text_of(waited), text_of(got), caught.value.error.message):
        assert f"No refresh job {rounded} on this cluster" in message
        assert "It looks rounded" in message and "exact string" in message
        assert sum(job_id in message for job_id in twins) == min(len(twins), 5)  # five at most, named
        assert len(twins) <= 5 or f"and {len(twins) - 5} more" in message
    assert waited.is_error and got.is_error and unknown.is_error
    assert "rounded" not in text_of(unknown)  # an id of its own digits is only unknown


async def test_a_malformed_job_id_is_told_alike_by_the_tool_the_resource_and_subscribe(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    """One wording of the failure whichever protocol error carries it, and nothing goes upstream."""
    async with Client(mcp_server, mode="legacy") as client:  # the handshake era, which has resources/subscribe
        waited = await client.call_tool("wait_for_refresh_job", {"jobId": "bad id!", "timeoutSeconds": 1})
        got = await client.call_tool("get_refresh_job", {"jobId": "bad id!"})
        with pytest.raises(MCPError) as read:
            await client.read_resource("zilliz://refresh-jobs/bad id!")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            with pytest.raises(MCPError) as subscribed:
                await client.subscribe_resource("zilliz://refresh-jobs/bad id!")
        assert not (await client.call_tool("list_refresh_jobs", {})).is_error
    assert waited.is_error and got.is_error
    told = "Invalid argument: jobId 'bad id!' is not a job id: use the decimal digits of jobId from list_refresh_jobs"
    for refused in (read.value, subscribed.value):
        assert refused.error.code == INVALID_PARAMS
        assert refused.error.message.startswith(told)
        for tool_error in (waited, got):  # after the SDK's "Error executing tool ...: "
            assert text_of(tool_error).endswith(f": {refused.error.message}")
    assert not [seen for seen in cluster.requests if seen.route == DESCRIBE_ROUTE]


async def test_bad_token_says_to_check_it(simulator: SimulatorServer, clock: FakeClock) -> None:
    server = build_server(settings_for(simulator, token="wrong-token-value"), clock=clock)
    async with Client(server) as client:
        result = await client.call_tool("list_refresh_jobs", {})
    assert result.is_error
    message = text_of(result)
    assert "HTTP 401" in message and "code 1800" in message and "ZILLIZ_TOKEN" in message
    assert "wrong-token-value" not in message


async def test_old_cluster_without_the_route(simulator: SimulatorServer, clock: FakeClock) -> None:
    # Everything below /old is unknown to the simulator, as the routes are to a pre-3.0 cluster.
    server = build_server(settings_for(simulator, cluster_endpoint=simulator.url + "/old"), clock=clock)
    async with Client(server) as client:
        result = await client.call_tool("list_refresh_jobs", {})
    assert result.is_error
    assert "HTTP 404" in text_of(result)
    assert "predates" in text_of(result)


@MODES
async def test_resource_reads_one_job_with_an_exact_integer_upstream(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster, mode: str
) -> None:
    job = cluster.jobs[2]
    async with Client(mcp_server, mode=mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates if t.uri_template.startswith("zilliz://")] == [
            "zilliz://refresh-jobs/{jobId}"
        ]
        read = await client.read_resource(f"zilliz://refresh-jobs/{job.job_id}")
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    record = json.loads(content.text)
    assert record["jobId"] == str(job.job_id)
    assert record["state"] == "RefreshFailed"
    assert record["reason"] == job.reason
    sent = [r for r in cluster.requests if r.route == DESCRIBE_ROUTE][-1]
    assert sent.raw_body == f'{{"jobId":{job.job_id}}}'.encode()


@MODES
async def test_get_refresh_job_answers_the_record_of_the_jobs_resource_with_what_lists_cut(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster, mode: str
) -> None:
    """For hosts whose model cannot read resources: the tool gives what the job's resource holds, reason whole."""
    trace = "java.io.IOException: cannot read part-0007.parquet\n" + "\tat Reader.read(Reader.java:42)\n" * 60
    trace += "Caused by: access denied by bucket policy"
    failed = cluster.add_job(
        "default", "ext_logs", started_minutes_ago=30, duration_minutes=10, fail_at_progress=40, reason=trace
    )
    async with Client(mcp_server, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        listed = (await client.call_tool("list_refresh_jobs", {"collectionName": "ext_logs"})).structured_content
        got = await client.call_tool("get_refresh_job", {"jobId": str(failed.job_id)})
        read = (await client.read_resource(f"zilliz://refresh-jobs/{failed.job_id}")).contents[0]
    tool = tools["get_refresh_job"]
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert tool.input_schema["required"] == ["jobId"]
    assert tool.output_schema is not None and "reason" in tool.output_schema["properties"]
    assert listed is not None and "characters cut" in listed["jobs"][0]["reason"]
    assert not got.is_error and isinstance(read, TextResourceContents)
    assert got.structured_content == json.loads(read.text)
    assert got.structured_content["reason"] == trace
    text = text_of(got)
    assert text.startswith(f"RefreshFailed ext_logs job {failed.job_id}: 40%, started ")
    assert "Caused by: access denied by bucket policy" in text and "characters cut" not in text
    assert text.count("\n") == 1  # the job's line, its reason on it; then its source
    assert text.endswith(f"\nexternalSource: {json.dumps(json.loads(failed.source))}")
    links = [item for item in got.content if isinstance(item, ResourceLink)]
    assert [str(link.uri) for link in links] == [f"zilliz://refresh-jobs/{failed.job_id}"]


@pytest.mark.parametrize("character", ["x", "界", "\x1b"], ids=["ascii", "cjk", "escape"])
async def test_get_refresh_job_cuts_a_record_at_its_bounds_to_fit_one_answer(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster, character: str
) -> None:
    """A 30,000-character reason and a spec of ~22 kB: the resource keeps 20,000 of the reason; the tool's answer,
    which carries the reason twice (structured and text), cuts them further, by their ends, to stay within 64 kB."""
    reason = "java.io.IOException: head" + character * 30_000 + "Caused by: the tail"
    failed = cluster.add_job(
        "default", "ext_logs", started_minutes_ago=30, duration_minutes=10, fail_at_progress=40, reason=reason
    )
    failed.spec = json.dumps({"columns": [f"column_{c:04d}" for c in range(1_500)]})
    async with Client(mcp_server) as client:
        got = await client.call_tool("get_refresh_job", {"jobId": str(failed.job_id)})
        read = (await client.read_resource(f"zilliz://refresh-jobs/{failed.job_id}")).contents[0]
    assert not got.is_error and isinstance(read, TextResourceContents) and got.structured_content is not None
    size = len(got.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert size < 64_000, f"{size} bytes"
    whole = json.loads(read.text)
    shown = got.structured_content
    assert len(whole["reason"]) > 20_000 > len(shown["reason"]) > 500  # shorter than the resource's, still long
    for kept in (shown["reason"], text_of(got)):
        assert "java.io.IOException: head" in kept and "Caused by: the tail" in kept  # both ends
        assert "more characters cut from the middle; read detailsUri for more" in kept
    assert isinstance(shown["externalSpec"], str) and "read detailsUri for more]" in shown["externalSpec"]
    assert {key: value for key, value in shown.items() if key not in ("reason", "externalSpec")} == {
        key: value for key, value in whole.items() if key not in ("reason", "externalSpec")
    }


async def test_a_wait_counts_what_it_cut_of_a_long_reason_against_the_whole_reason_as_a_list_does(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    """A trace of ~30,000 characters, whose job's record keeps 20,000: a list and a wait show its first 300 and
    last 200 (its cause), and say how many characters they left out. An audit: the wait cut the record's 20,000
    again, and counted only its own cut (19,556 where the list said 22,788)."""
    cause = "Caused by: java.nio.file.AccessDeniedException: s3://bucket/part-0007.parquet"
    trace = "java.io.IOException: failed to read part-0007.parquet\n"
    trace += "\tat org.apache.parquet.Reader.read(Reader.java:42)\n" * 600 + f"{cause}\n\tat S3.get(S3.java:7)"
    failed = cluster.add_job(
        "default", "ext_logs", started_minutes_ago=30, duration_minutes=10, fail_at_progress=40, reason=trace
    )
    async with Client(mcp_server) as client:
        listed = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_logs"})
        waited = await client.call_tool("wait_for_refresh_job", {"jobId": str(failed.job_id)})
    assert len(trace) > 30_000
    gap = f" [... {len(trace) - 500} characters cut; get_refresh_job shows more ...] "
    assert listed.structured_content is not None and waited.structured_content is not None
    assert listed.structured_content["jobs"][0]["reason"] == trace[:300] + gap + trace[-200:]
    assert waited.structured_content["job"]["reason"] == trace[:300] + gap + trace[-200:]
    assert gap in text_of(listed) and gap in waited.structured_content["message"]


async def test_a_wait_on_a_job_of_thousands_of_columns_answers_within_what_a_list_page_may_weigh(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    """A scale audit: a wait showed a wide collection's source and spec as its record does, 20,000 characters each, an
    answer of ~48 kB with default arguments (a list of the same job: ~9 kB). It shows them as a list does, and says
    how many characters of upstream's whole value it left out."""
    columns = json.dumps({"columns": [f"column_{c:04d}" for c in range(3_000)]})
    source = json.dumps({"type": "s3", "paths": [f"s3://lake/wide/part-{c:05d}.parquet" for c in range(1_000)]})
    cluster.add_collection("default", "ext_wide", source=source)
    job = cluster.add_job("default", "ext_wide", started_minutes_ago=30, duration_minutes=10, spec=columns)
    async with Client(mcp_server) as client:
        waited = await client.call_tool("wait_for_refresh_job", {"jobId": str(job.job_id)})
        listed = await client.call_tool("list_refresh_jobs", {"collectionName": "ext_wide"})
    assert waited.structured_content is not None and listed.structured_content is not None
    shown, as_listed = waited.structured_content["job"], listed.structured_content["jobs"][0]
    assert len(columns) > 20_000 and len(source) > 20_000
    for field, whole in (("externalSource", source), ("externalSpec", columns)):
        assert shown[field] == as_listed[field]
        assert shown[field].endswith(f"[cut at 1000 of {len(whole)} characters; get_refresh_job shows all of it]")
    size = len(waited.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert size < 8_000, f"{size} bytes"


async def test_unknown_job_is_a_resource_error(mcp_server: MCPServer[ServerState]) -> None:
    async with Client(mcp_server) as client:
        with pytest.raises(MCPError, match="No refresh job 42"):
            await client.read_resource("zilliz://refresh-jobs/42")
        assert not (await client.call_tool("list_refresh_jobs", {})).is_error


async def test_malformed_job_id_is_refused_before_upstream(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    async with Client(mcp_server) as client:
        with pytest.raises(MCPError, match="not a job id"):
            await client.read_resource("zilliz://refresh-jobs/12%2034")
        with pytest.raises(MCPError, match="larger than an int64"):
            await client.read_resource("zilliz://refresh-jobs/99999999999999999999")
        negative = await client.call_tool("get_refresh_job", {"jobId": "-5"})
    assert negative.is_error and "jobId -5 is negative" in negative.content[0].text  # type: ignore[union-attr]
    assert not [r for r in cluster.requests if r.route == DESCRIBE_ROUTE]


async def test_the_failure_guide_is_listed_and_read_without_the_cluster(
    mcp_server: MCPServer[ServerState], cluster: SimulatedCluster
) -> None:
    uri = "zilliz://guides/refresh-failures"
    async with Client(mcp_server) as client:
        listed = {str(resource.uri): resource for resource in (await client.list_resources()).resources}
        read = await client.read_resource(uri)
    assert listed[uri].mime_type == "text/markdown"
    [content] = read.contents
    assert isinstance(content, TextResourceContents) and content.mime_type == "text/markdown"
    # What the troubleshooting prompt relies on: the reason of the demo's failed job finds its row and remedy.
    row = next(line for line in content.text.splitlines() if "`permission denied`" in line)
    assert "read access" in row and row.startswith("| ")
    assert "do not guess" in content.text
    assert cluster.requests == []


async def test_instructions_name_the_tool(mcp_server: MCPServer[ServerState]) -> None:
    async with Client(mcp_server, mode="legacy") as client:
        assert client.instructions is not None
        assert "list_refresh_jobs" in client.instructions


def test_cluster_fixture_has_a_job_in_every_state(cluster: SimulatedCluster) -> None:
    states = {record["state"] for record in cluster.records("default")}
    assert states == {"RefreshPending", "RefreshInProgress", "RefreshCompleted", "RefreshFailed"}
    assert all(record["jobId"] > 2**53 for record in cluster.records("default"))


async def test_a_wait_with_default_arguments_answers_before_hosts_give_up(mcp_server: MCPServer[ServerState]) -> None:
    """Hosts commonly end a tool call after 60 s; the default wait, with its read grace, must answer sooner."""
    async with Client(mcp_server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    default = tools["wait_for_refresh_job"].input_schema["properties"]["timeoutSeconds"]["default"]
    assert default + POLL_GRACE_SECONDS < 60


async def test_an_internal_fault_is_not_blamed_on_the_arguments(
    mcp_server: MCPServer[ServerState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only InvalidArgument is told as "Invalid argument": any other ValueError is a bug, not the model's input."""

    async def broken(self: RefreshJobs, **_: Any) -> None:
        raise ValueError("a bug deep inside")

    monkeypatch.setattr(RefreshJobs, "list_jobs", broken)
    async with Client(mcp_server) as client:
        result = await client.call_tool("list_refresh_jobs", {})
        refused = await client.call_tool("wait_for_refresh_job", {"jobId": "12 34"})
    assert result.is_error
    assert "Invalid argument" not in text_of(result)
    assert refused.is_error and "Invalid argument" in text_of(refused)
