import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_JWKS_BYTES } from "../../../worker/jwks.ts";
import { captureLog } from "../../worker/support/audit-log.ts";
import { b64url, scenario } from "../../worker/support/scenario.ts";
import {
  craft,
  expectRefused,
  hits,
  hostileKeysScenario,
  invalidSubject,
  publicJwk,
  script,
  type Refusal,
} from "../support/adversary.ts";

// A hostile or broken key endpoint. The broker's keys come from one configured URL per tenant; here
// that URL is the scriptable hostile endpoint, so each test says exactly what it answers and counts
// every request it receives. Outcomes: 503 temporarily_unavailable when no keys can be had, 400 when a
// key is unusable, never a 500, never a token, and a bounded number of fetches whatever the traffic.

const log = captureLog();
afterEach(() => vi.useRealTimers());

const UNAVAILABLE: Refusal = {
  status: 503,
  error: "temporarily_unavailable",
  reason: "jwks_unavailable",
  description: "Entra ID signing keys are unavailable right now; retry later",
};

function freezeClock(): (seconds: number) => void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now());
  return (seconds) => vi.setSystemTime(Date.now() + seconds * 1000);
}

const jwks = (...keys: unknown[]) => JSON.stringify({ keys });

describe("an endpoint that does not answer with keys", () => {
  const faults: Array<[string, Parameters<typeof hostileKeysScenario>[0]]> = [
    ["404 Not Found", { status: 404, body: "not found" }],
    ["500 Internal Server Error", { status: 500, body: jwks(publicJwk()) }],
    ["429 Too Many Requests with Retry-After", { status: 429, headers: { "retry-after": "3600" }, body: "slow down" }],
    ["an empty 200", { body: "" }],
    ["keys that are not an array", { body: JSON.stringify({ keys: publicJwk() }) }],
    ["JSON null", { body: "null" }],
    ["invalid UTF-8", { bodyBase64: "/////w==" }],
    ["a truncated document", { body: jwks(publicJwk()).slice(0, 100) }],
    ["a 1 MiB stream without Content-Length", { streamBytes: 1024 * 1024 }],
    ["a dropped connection", { destroy: true }],
  ];
  for (const [name, spec] of faults) {
    it(`answers 503 with Retry-After to ${name}, after exactly one fetch`, async () => {
      const { s, keyHits } = await hostileKeysScenario(spec);
      const response = await s.exchange();
      expect(response.headers.get("retry-after")).toBe("30");
      await expectRefused(response, log, UNAVAILABLE);
      expect(await keyHits()).toBe(1);
    });
  }

  it("answers 503 to valid JSON padded past the 64 KiB cap, chunked with no Content-Length (the stream is what is capped)", async () => {
    const padded = JSON.stringify({ keys: [publicJwk()], padding: "x".repeat(MAX_JWKS_BYTES) });
    const { s, keyHits } = await hostileKeysScenario({ body: padded, chunked: true });
    await expectRefused(await s.exchange(), log, UNAVAILABLE);
    expect(await keyHits()).toBe(1);
  });

  it("accepts the same document chunked under the cap: only the size made the padded one fail", async () => {
    const { s } = await hostileKeysScenario({ body: jwks(publicJwk()) + " ".repeat(1000), chunked: true });
    expect((await s.exchange()).status).toBe(200);
  });

  it("gives up on a body that never finishes (headers sent, then silence) within the fetch timeout", async () => {
    const { s, keyHits } = await hostileKeysScenario({ stallBody: true });
    const started = Date.now();
    await expectRefused(await s.exchange(), log, UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(await keyHits()).toBe(1);
  }, 10_000);

  for (const status of [301, 307, 308]) {
    it(`does not follow a ${status} redirect, even to a path serving the right keys`, async () => {
      const target = `/${crypto.randomUUID()}/redirected/keys`;
      await script(target, { body: jwks(publicJwk()) });
      const { s, keyHits } = await hostileKeysScenario({ status, headers: { location: target } });
      await expectRefused(await s.exchange(), log, UNAVAILABLE);
      expect(await keyHits()).toBe(1);
      expect(await hits(target)).toBe(0);
    });
  }
});

describe("weak or malformed keys in a published set (400, never 500)", () => {
  const keyA = publicJwk();
  /** PKCS#1 v1.5 encoded message for SHA-256: with e = 1 the "signature" is just this block. */
  async function encodedMessage(signingInput: string, bytes: number): Promise<Uint8Array> {
    const digestInfo = [
      0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
    ];
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(signingInput)));
    const t = [...digestInfo, ...hash];
    return new Uint8Array([0x00, 0x01, ...new Array(bytes - t.length - 3).fill(0xff), 0x00, ...t]);
  }

  it("refuses a key with public exponent 1: the forged 'signature' is the padded hash itself", async () => {
    const { s } = await hostileKeysScenario({ body: jwks({ ...keyA, kid: "e1", e: "AQ" }) });
    const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "e1" }));
    const input = `${header}.${b64url(JSON.stringify(s.claims()))}`;
    const token = `${input}.${b64url(await encodedMessage(input, 256))}`;
    await expectRefused(await s.exchange({ subject_token: token }), log, invalidSubject("key_not_found"));
  });

  const weak: Array<[string, Record<string, unknown>]> = [
    ["a 512-bit modulus", { kid: "k", n: b64url(new Uint8Array(64).fill(0xc3)) }],
    ["a 2040-bit modulus", { kid: "k", n: b64url(new Uint8Array(255).fill(0xc3)) }],
    ["a huge exponent (2^64 + 1)", { kid: "k", e: b64url(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1])) }],
    ["an even exponent", { kid: "k", e: "Ag" }],
    ["a modulus that is not base64url", { kid: "k", n: "!".repeat(400) }],
    ["a modulus of 32,768 bits", { kid: "k", n: b64url(new Uint8Array(4096).fill(0xc3)) }],
    ["no exponent", { kid: "k", e: undefined }],
  ];
  for (const [name, override] of weak) {
    it(`refuses tokens for ${name} with 400 (key_not_found), never 500`, async () => {
      const { s } = await hostileKeysScenario({ body: jwks({ ...keyA, ...override }) });
      const token = await craft({ header: { alg: "RS256", typ: "JWT", kid: "k" }, payload: s.claims() });
      await expectRefused(await s.exchange({ subject_token: token }), log, invalidSubject("key_not_found"));
    });
  }

  it("treats an empty key set as a successful answer with no such key (400, not 503)", async () => {
    const { s } = await hostileKeysScenario({ body: jwks() });
    await expectRefused(await s.exchange(), log, invalidSubject("key_not_found"));
  });

  it("only considers the first 64 keys of a document", async () => {
    const filler = Array.from({ length: 64 }, (_, i) => ({
      kty: "EC",
      crv: "P-256",
      kid: `f${i}`,
      x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }));
    const { s } = await hostileKeysScenario({ body: jwks(...filler, keyA) });
    await expectRefused(await s.exchange(), log, invalidSubject("key_not_found"));
  });
});

describe("unusable keys mixed with the good one", () => {
  const keyA = publicJwk();
  const sets: Array<[string, unknown[]]> = [
    ["an HMAC (oct) key with the good key's kid, listed first", [{ kty: "oct", kid: "key-a", k: "c2VjcmV0" }, keyA]],
    [
      "an encryption key with the good key's kid, listed after it",
      [keyA, { ...keyA, use: "enc", n: b64url(new Uint8Array(256).fill(7)) }],
    ],
    [
      "an RS512 key with the good key's kid, listed after it",
      [keyA, { ...keyA, alg: "RS512", n: b64url(new Uint8Array(256).fill(7)) }],
    ],
    ["entries that are not objects", [null, "key", 42, [keyA], keyA]],
    ["a key without a kid", [{ ...keyA, kid: undefined }, keyA]],
    ["a key carrying private members", [{ ...keyA, kid: "priv", d: "AQAB", p: "AQAB" }, keyA]],
  ];
  for (const [name, keys] of sets) {
    it(`accepts key-a alongside ${name}`, async () => {
      const { s } = await hostileKeysScenario({ body: jwks(...keys) });
      expect((await s.exchange()).status).toBe(200);
    });
  }
});

describe("floods and refresh behaviour (fetches counted)", () => {
  it("never refetches for forged signatures under a known kid, however many and however late", async () => {
    const advance = freezeClock();
    const { s, keyHits } = await hostileKeysScenario();
    expect((await s.exchange()).status).toBe(200);
    const [h, p] = (await s.token()).split(".");
    for (let round = 0; round < 3; round++) {
      advance(61);
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          s.exchange({ subject_token: `${h}.${p}.${b64url(new Uint8Array(256).fill(i))}` }),
        ),
      );
      expect(responses.every((r) => r.status === 400)).toBe(true);
    }
    expect(log.lastReason()).toBe("signature_invalid");
    expect(await keyHits()).toBe(1);
  });

  it("fetches at most once per cooldown under a sustained unknown-kid flood (10 minutes: 11 fetches)", async () => {
    const advance = freezeClock();
    const { s, keyHits } = await hostileKeysScenario();
    expect((await s.exchange()).status).toBe(200);
    for (let minute = 0; minute < 10; minute++) {
      advance(61);
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) =>
          s.exchange({ subject_token: await s.token({ header: { kid: `bogus-${minute}-${i}` } }) }),
        ),
      );
    }
    expect(await keyHits()).toBe(11);
  });

  it("backs off an endpoint that is down: a flood of unknown kids costs one fetch per backoff", async () => {
    const advance = freezeClock();
    const { s, keysPath, keyHits } = await hostileKeysScenario({ status: 503 });
    const flood = () =>
      Promise.all(
        Array.from({ length: 20 }, async (_, i) =>
          s.exchange({ subject_token: await s.token({ header: { kid: `k${i}` } }) }),
        ),
      );
    expect((await flood()).every((r) => r.status === 503)).toBe(true);
    expect(await keyHits()).toBe(1);
    advance(5);
    await flood();
    expect(await keyHits()).toBe(1);
    advance(6);
    await script(keysPath, { body: jwks(publicJwk()) });
    expect((await s.exchange()).status).toBe(200);
    expect(await keyHits()).toBe(2);
  });

  it("keeps the cached keys when a refresh returns garbage", async () => {
    const advance = freezeClock();
    const { s, keysPath, keyHits } = await hostileKeysScenario();
    expect((await s.exchange()).status).toBe(200);
    await script(keysPath, { body: "<html>maintenance</html>" });
    advance(3601);
    expect((await s.exchange()).status).toBe(200);
    expect(await keyHits()).toBe(2);
  });

  it("drops a key the endpoint stops publishing, even mid-flood", async () => {
    const advance = freezeClock();
    const { s, keysPath } = await hostileKeysScenario({ body: jwks(publicJwk(), publicJwk("key-b")) });
    const b = await s.token({ kid: "key-b" });
    expect((await s.exchange({ subject_token: b })).status).toBe(200);
    await script(keysPath, { body: jwks(publicJwk()) });
    advance(3601);
    await expectRefused(await s.exchange({ subject_token: b }), log, {
      ...invalidSubject("key_not_found"),
      priorGrants: 1,
    });
    expect((await s.exchange()).status).toBe(200);
  });

  it("never fetches keys for a tenant that is not allow-listed, whatever its kid", async () => {
    const { s, keyHits } = await hostileKeysScenario();
    const stranger = scenario();
    const token = await stranger.token({ claims: { tid: stranger.tid }, header: { kid: "new-kid" } });
    await expectRefused(await s.exchange({ subject_token: token }), log, invalidSubject("tenant_not_allowed"));
    expect(await keyHits()).toBe(0);
    expect(await hits(`/${stranger.tid}/`)).toBe(0);
  });
});
