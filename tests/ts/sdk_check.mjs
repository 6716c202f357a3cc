// Runs the official Mem0 TypeScript SDK against mem0g: ping, add, getAll, search, delete.
// Prints one JSON object with what each call returned; tests/test_mem0_ts_sdk.py checks it.
import { MemoryClient } from "mem0ai";

const client = new MemoryClient({ apiKey: process.env.MEM0G_API_KEY, host: process.env.MEM0G_URL });
await client.initialized;
const added = await client.add([{ role: "user", content: "I love green tea" }], { user_id: "ts-user" });
const raw = await client.add("raw note from typescript", { user_id: "ts-user", infer: false });
const all = await client.getAll({ filters: { user_id: "ts-user" } });
const found = await client.search("what does the user drink?", { filters: { user_id: "ts-user" }, top_k: 5 });
const firstId = added.results[0].id;
const deleted = await client.delete(firstId);
const after = await client.getAll({ filters: { user_id: "ts-user" } });
console.log(JSON.stringify({
  orgId: client.organizationId,
  projectId: client.projectId,
  added,
  raw,
  all,
  found,
  deleted,
  after,
}));
