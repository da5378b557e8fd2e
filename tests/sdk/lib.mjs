// What every SDK test file shares: the mock provider and the real conduit
// binary started on free loopback ports with a config the file gives, and an
// official openai client pointed at conduit. CONDUIT_BIN and MOCK_BIN point at
// the binaries (default: ../../build/).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CONDUIT = process.env.CONDUIT_BIN ?? join(root, "build/conduit");
const MOCK = process.env.MOCK_BIN ?? join(root, "build/conduit-mock");
export const KEY = "sk-sdk-test";

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function start(procs, bin, args, readyLine, env) {
  return new Promise((ok, fail) => {
    const p = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    procs.push(p);
    let out = "";
    const timer = setTimeout(() => fail(new Error(`${bin} not ready: ${out}`)), 10000);
    const look = (d) => {
      out += d;
      if (out.includes(readyLine)) {
        clearTimeout(timer);
        ok(p);
      }
    };
    p.stdout.on("data", look);
    p.stderr.on("data", look);
    p.once("exit", (code) => fail(new Error(`${bin} exited ${code}: ${out}`)));
  });
}

// Starts the mock (--api-key up, plus mockArgs) and conduit with the YAML
// list items `providers(mockPort)` and `models` (each item on its own line,
// indented two spaces), then `extra` verbatim (top-level sections such as
// store: and admin:; relative paths in it are relative to the config's own
// temporary folder). env: extra environment for conduit. Returns
// { client, mockPort, gwPort, dir, stop }.
export async function startStack({ providers, models, extra = "", mockArgs = [], env = {} }) {
  const procs = [];
  const mockPort = await freePort();
  const gwPort = await freePort();
  await start(procs, MOCK, ["--listen", `127.0.0.1:${mockPort}`, "--api-key", "up", ...mockArgs],
    "listening");
  const dir = mkdtempSync(join(tmpdir(), "conduit-sdk-"));
  const cfg = join(dir, "conduit.yaml");
  writeFileSync(
    cfg,
    `server: {listen: "127.0.0.1:${gwPort}", workers: 2}
keys: [{name: sdk, key: "${KEY}"}]
providers:${providers(mockPort)}
models:${models}
${extra}`,
  );
  // The client port's own line: with admin: set, the admin API's line comes first.
  await start(procs, CONDUIT, ["-c", cfg], `listening on 127.0.0.1:${gwPort} `, env);
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${gwPort}/v1`, apiKey: KEY, maxRetries: 0 });
  return {
    client, mockPort, gwPort, dir,
    stop() {
      for (const p of procs) p.kill("SIGKILL");
    },
  };
}
