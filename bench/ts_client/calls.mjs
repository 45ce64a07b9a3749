// Per-call latency of list_refresh_jobs through the MCP TypeScript SDK's client, for bench/run.py.
//
//   node calls.mjs CONFIG.json
//
// CONFIG: {"calls": N, "warmup": W, "servers": [{"name", "command", "args", "env"}, ...]}, stdio servers.
// Each client lists the tools first, so that the SDK checks every structuredContent against the tool's
// outputSchema (with ajv, compiled once), as a host does. Calls alternate between the servers (A B A B ...).
// Prints one JSON line: {"<name>": {"ms": [per-call latency...], "cpuMs": client CPU per call (mean)}, ...}.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sessions = [];
for (const server of config.servers) {
  const client = new Client({ name: "zilliz-refresh-mcp-bench", version: "1" });
  const transport = new StdioClientTransport({
    command: server.command,
    args: server.args,
    env: { ...process.env, ...server.env },
    stderr: "inherit",
  });
  await client.connect(transport);
  await client.listTools();
  sessions.push({ name: server.name, client, ms: [], cpuUs: 0 });
}

for (let round = 0; round < config.warmup + config.calls; round++) {
  for (const session of sessions) {
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const result = await session.client.callTool({ name: "list_refresh_jobs", arguments: {} });
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    const used = process.cpuUsage(cpu);
    if (result.isError) {
      throw new Error(`${session.name}: tool error: ${JSON.stringify(result.content)}`);
    }
    if (round >= config.warmup) {
      session.ms.push(elapsed);
      session.cpuUs += used.user + used.system;
    }
  }
}

const report = {};
for (const session of sessions) {
  report[session.name] = { ms: session.ms, cpuMs: session.cpuUs / 1000 / config.calls };
  await session.client.close();
}
console.log(JSON.stringify(report));
