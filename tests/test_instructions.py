"""The ``instructions`` a host receives at initialize: short, and naming everything the server offers."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from zilliz_refresh_mcp.server import DEMO_LINE, build_server
from zilliz_refresh_mcp.simulator import SimulatedCluster, SimulatorServer

from .conftest import FakeClock, settings_for, text_of

pytestmark = pytest.mark.anyio

MAX_LINES = 12


@pytest.mark.parametrize("enable_refresh", [False, True], ids=["default", "refresh-enabled"])
async def test_instructions_name_every_tool_prompt_and_template(
    simulator: SimulatorServer, clock: FakeClock, enable_refresh: bool
) -> None:
    server = build_server(settings_for(simulator, enable_refresh=enable_refresh), clock=clock)
    async with Client(server, mode="legacy") as client:
        instructions = client.instructions
        assert instructions, "the server sends instructions at initialize"
        tools = [tool.name for tool in (await client.list_tools()).tools]
        prompts = [prompt.name for prompt in (await client.list_prompts()).prompts]
        templates = [template.uri_template for template in (await client.list_resource_templates()).resource_templates]

    assert "list_refresh_jobs" in tools
    assert ("refresh_external_collection" in tools) is enable_refresh
    for name in [*tools, *prompts, *templates]:
        assert name in instructions, f"{name} is offered but the instructions do not mention it"


async def test_instructions_are_a_few_lines(simulator: SimulatorServer, clock: FakeClock) -> None:
    async with Client(build_server(settings_for(simulator), clock=clock), mode="legacy") as client:
        instructions = client.instructions or ""
    lines = instructions.strip().splitlines()
    assert 1 <= len(lines) <= MAX_LINES, instructions
    assert all(len(line) <= 120 for line in lines), instructions


async def test_demo_instructions_say_the_jobs_are_made_up(simulator: SimulatorServer, clock: FakeClock) -> None:
    demo = settings_for(simulator).model_copy(update={"demo": True})  # as the CLI makes it, beside its simulator
    async with Client(build_server(demo, clock=clock), mode="legacy") as client:
        told = client.instructions or ""
    async with Client(build_server(settings_for(simulator), clock=clock), mode="legacy") as client:
        real = client.instructions or ""
    assert "DEMO MODE" in told and "made up" in told
    assert "DEMO MODE" not in real


async def test_every_demo_answer_says_its_jobs_are_made_up(
    simulator: SimulatorServer, cluster: SimulatedCluster, clock: FakeClock
) -> None:
    """An answer audit: only the instructions said so, and a host may not show them to the model; the answers read
    like a real cluster's. Each tool's text ends saying so, in demo mode only."""
    job_id = str(cluster.jobs[0].job_id)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_refresh_jobs", {}),
        ("get_refresh_job", {"jobId": job_id}),
        ("wait_for_refresh_job", {"jobId": job_id, "timeoutSeconds": 1}),
        ("refresh_external_collection", {"collectionName": "ext_books"}),
    ]
    told: dict[bool, list[str]] = {}
    for demo in (True, False):
        settings = settings_for(simulator, enable_refresh=True).model_copy(update={"demo": demo})
        async with Client(build_server(settings, clock=clock)) as client:
            told[demo] = [text_of(await client.call_tool(name, arguments)) for name, arguments in calls]
    assert all(text.endswith(f"\n{DEMO_LINE}") for text in told[True]), told[True]
    assert not any("Demo mode" in text for text in told[False])
