// The CLI side of the control API: `npm run emulator -- fault ...` and `npm run emulator -- keys ...`
// talk to the emulator that runs from the same state dir (it writes its origins to emulator.json).
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RUNTIME_FILE } from "./emulator.ts";

export const CONTROL_USAGE = `control a running emulator (same --state-dir, default .emulator):
  npm run emulator -- fault throttle    [--retry-after <s>] [--endpoint token|keys|discovery|all] [--tenant <id>] [--count <n>]
  npm run emulator -- fault unavailable [--retry-after <s>] [--endpoint ...] [--tenant <id>] [--count <n>]
  npm run emulator -- fault slow --delay-ms <ms> [--endpoint ...] [--tenant <id>] [--count <n>]
  npm run emulator -- fault drop        [--endpoint ...] [--tenant <id>] [--count <n>]   (connection reset)
  npm run emulator -- fault jwks-outage [--tenant <id>] [--count <n>]                    (503 on the key sets)
  npm run emulator -- fault key-lag     [--tenant <id>]          (every other JWKS answer lacks the newest key)
  npm run emulator -- fault list | fault clear | fault remove <id>
  npm run emulator -- keys list [--tenant <id>]
  npm run emulator -- keys rotate [--emergency] [--tenant <id>]
  npm run emulator -- keys drop-retired [--tenant <id>]`;

interface Runtime {
  httpsOrigin: string;
  caCertPath: string;
}

/** Runs one control command; returns the JSON the emulator answered. Throws with a readable message. */
export async function runControlCommand(argv: string[]): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      "state-dir": { type: "string", default: ".emulator" },
      "retry-after": { type: "string" },
      endpoint: { type: "string" },
      tenant: { type: "string" },
      count: { type: "string" },
      "delay-ms": { type: "string" },
      emergency: { type: "boolean" },
    },
  });
  const [group, action, arg] = positionals;
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name}: not a whole number: '${v}'`);
    return Number(v);
  };
  const common = {
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    ...(values.tenant ? { tenant: values.tenant } : {}),
    ...(values.count ? { count: int("count", values.count) } : {}),
  };
  const rt = await runtime(values["state-dir"]!);
  const call = (method: string, path: string, body?: unknown) => controlRequest(rt, method, path, body);
  const tenantQuery = values.tenant ? `?tenant=${encodeURIComponent(values.tenant)}` : "";
  const tenantBody = values.tenant ? { tenant: values.tenant } : {};

  if (group === "fault") {
    switch (action) {
      case "list":
        return call("GET", "/faults");
      case "clear":
        return call("DELETE", "/faults");
      case "remove":
        return call("DELETE", `/faults/${int("id", arg)}`);
      case "throttle":
      case "unavailable":
        return call("POST", "/faults", {
          kind: action,
          ...common,
          ...(values["retry-after"] ? { retryAfterSeconds: int("retry-after", values["retry-after"]) } : {}),
        });
      case "slow":
        return call("POST", "/faults", { kind: "slow", ...common, delayMs: int("delay-ms", values["delay-ms"]) });
      case "drop":
        return call("POST", "/faults", { kind: "drop", ...common });
      case "jwks-outage":
        return call("POST", "/faults", { kind: "unavailable", ...common, endpoint: "keys" });
      case "key-lag":
        return call("POST", "/faults", { kind: "key-lag", ...tenantBody });
    }
  }
  if (group === "keys") {
    switch (action) {
      case "list":
        return call("GET", `/keys${tenantQuery}`);
      case "rotate":
        return call("POST", "/keys/rotate", { ...tenantBody, mode: values.emergency ? "emergency" : "planned" });
      case "drop-retired":
        return call("POST", "/keys/drop-retired", tenantBody);
    }
  }
  throw new Error(`unknown command '${positionals.join(" ")}'\n${CONTROL_USAGE}`);
}

async function runtime(stateDir: string): Promise<Runtime> {
  const file = join(stateDir, RUNTIME_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new Error(
      `no running emulator found (${file} is missing): start one with 'npm run emulator', or pass its --state-dir`,
    );
  }
  return JSON.parse(text) as Runtime;
}

async function controlRequest(rt: Runtime, method: string, path: string, body?: unknown): Promise<unknown> {
  const ca = await readFile(rt.caCertPath, "utf8");
  const json = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${rt.httpsOrigin}/_emulator${path}`,
      {
        method,
        ca,
        headers: json ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          if ((res.statusCode ?? 500) >= 400) {
            const p = parsed as { reason?: string; detail?: string };
            reject(new Error(`emulator refused: ${p.reason ?? res.statusCode}: ${p.detail ?? text}`));
          } else resolve(parsed);
        });
      },
    );
    req.on("error", (e) =>
      reject(new Error(`cannot reach the emulator at ${rt.httpsOrigin}: ${e.message} (is it still running?)`)),
    );
    req.end(json);
  });
}
