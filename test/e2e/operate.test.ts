import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROKER_SCOPE, IDENTITIES } from "../../dev/sample.ts";
import { startStack, type Stack } from "../../dev/stack.ts";

// Operating the broker on the `npm start` stack, every part a real process: the admin identity
// revokes the orders service with `broker-signer admin`, the broker refuses its next exchange and
// its forwarded requests, the revocation survives a broker restart (wrangler dev's local KV
// state), and lifting it restores service.

/** The origin kit's default poll interval (30 s) plus the broker's caching of the list (5 s) and slack. */
const ORIGIN_POLL_WAIT_MS = 45_000;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const SIGNER_BIN = resolve(import.meta.dirname, "../../signer/bin/broker-signer.ts");
const run = promisify(execFile);
let stack: Stack;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "broker-operate-"));
  stack = await startStack({ stateDir, ports: {} });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

/** `broker-signer admin …` as an operator runs it, with the given identity's signer config. */
async function admin(args: string[], identity: "admin" | "orders" = "admin") {
  try {
    const { stdout, stderr } = await run(process.execPath, [
      SIGNER_BIN,
      "admin",
      ...args,
      "--config",
      stack.signers[identity].configFile,
    ]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/**
 * A fresh exchange at the broker for the orders service: the CLI, a process of its own, so that no
 * daemon's exchange cache answers in the broker's place. Its OAuth error when refused, else undefined.
 */
async function ordersExchange(): Promise<string | undefined> {
  try {
    await run(process.execPath, [
      SIGNER_BIN,
      "exchange",
      "--resource",
      stack.origins.inventory.origin,
      "--scope",
      "inventory.read",
      "--config",
      stack.signers.orders.configFile,
    ]);
    return undefined;
  } catch (e) {
    const failed = e as { code: number; stderr: string };
    expect(failed.code, failed.stderr).toBe(5); // the broker's OAuth error (exit code 5)
    return /: (invalid_request|invalid_target|invalid_scope|temporarily_unavailable):/.exec(failed.stderr)?.[1];
  }
}

describe("revoking the orders service", () => {
  let id: string;

  it("is an admin call: the orders service itself is refused with 403", async () => {
    const refused = await admin(["revocations"], "orders");
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain("403 insufficient_scope");
  });

  let minted: string;

  it("takes effect on the next exchange and on forward mode", async () => {
    const before = await stack.signers.orders.client.exchange(stack.origins.inventory.origin, "inventory.read");
    minted = before.access_token;
    expect((await fetch(`${stack.origins.inventory.origin}/items`, { headers: bearer(minted) })).status).toBe(200);
    const revoked = await admin([
      "revoke",
      "--client",
      IDENTITIES.orders.appId,
      "--reason",
      "certificate leaked",
      "--json",
    ]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const entry = JSON.parse(revoked.stdout) as { id: string; kind: string; revokedBy: string };
    expect(entry).toMatchObject({ kind: "client", value: IDENTITIES.orders.appId, reason: "certificate leaked" });
    expect(entry.revokedBy).toContain(IDENTITIES.admin.appId);
    id = entry.id;

    expect(await ordersExchange()).toBe("invalid_request");
    expect(
      stack.broker
        .events()
        .filter((e) => e.event === "token_exchange")
        .at(-1),
    ).toMatchObject({
      outcome: "denied",
      reason: "revoked",
      revocation: id,
    });

    const entraToken = (await stack.signers.orders.client.getToken(BROKER_SCOPE)).access_token;
    const forwarded = await fetch(`${stack.broker.origin}/items`, {
      headers: { authorization: `Bearer ${entraToken}` },
    });
    expect(forwarded.status).toBe(401);
  });

  it(
    "reaches the inventory origin: its already-minted token is refused after the origin kit's next poll",
    async () => {
      // The kit re-reads GET /revocations every 30 s (and the broker lets it be cached 5 s).
      const deadline = Date.now() + ORIGIN_POLL_WAIT_MS;
      let status = 200;
      while (Date.now() < deadline) {
        status = (await fetch(`${stack.origins.inventory.origin}/items`, { headers: bearer(minted) })).status;
        if (status === 401) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      expect(status).toBe(401);
    },
    ORIGIN_POLL_WAIT_MS + 10_000,
  );

  it("survives a broker restart (local KV state)", async () => {
    await stack.restartBroker();
    expect(await ordersExchange()).toBe("invalid_request");
    const listed = await admin(["revocations"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('"certificate leaked"');
  }, 120_000);

  it("is lifted with unrevoke, and the orders service is served again", async () => {
    const lifted = await admin(["unrevoke", id]);
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(lifted.stdout).toContain(`lifted client ${IDENTITIES.orders.appId}`);
    expect(await ordersExchange()).toBeUndefined();
    expect((await admin(["revocations"])).stdout).toBe("no active revocations\n");
  });
});
