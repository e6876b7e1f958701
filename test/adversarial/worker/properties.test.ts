import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toWireError, type ExchangeFailure } from "../../../worker/errors.ts";
import type { RequestProblem } from "../../../worker/exchange-request.ts";
import { captureLog } from "../../worker/support/audit-log.ts";
import {
  ACCESS_TOKEN_TYPE,
  INVENTORY,
  scenario,
  TOKEN_EXCHANGE,
  type Scenario,
} from "../../worker/support/scenario.ts";

// Property-based: random and mutated tokens and form bodies thrown at POST /token. Whatever arrives,
// the answer is never a 500, never a token, and always one of the broker's fixed error bodies, so
// nothing of the input can be echoed back. Runs are bounded so the suite stays fast.

const log = captureLog();
const RUNS = 300;

// Every error body a request without a valid subject token can produce. scope_not_granted is the one
// description with a variable part, and it needs a verified caller, which no input here can be.
const SINGLE_VALUED = [
  "grant_type",
  "subject_token",
  "subject_token_type",
  "requested_token_type",
  "actor_token",
  "actor_token_type",
  "audience",
  "scope",
];
const requestReasons: Record<Exclude<RequestProblem["reason"], "parameter_repeated">, true> = {
  content_type_unsupported: true,
  body_too_large: true,
  body_unreadable: true,
  grant_type_missing: true,
  grant_type_unsupported: true,
  subject_token_missing: true,
  subject_token_type_unsupported: true,
  requested_token_type_unsupported: true,
  actor_token_unsupported: true,
  audience_unsupported: true,
  resource_missing: true,
  resource_repeated: true,
  resource_not_canonical: true,
  scope_malformed: true,
};
const failures: ExchangeFailure[] = [
  ...Object.keys(requestReasons).map(
    (reason) => ({ stage: "request", reason, origin: "not_a_url" }) as ExchangeFailure,
  ),
  ...SINGLE_VALUED.map((parameter) => ({ stage: "request", reason: "parameter_repeated", parameter }) as const),
  { stage: "verify", reason: "signature_invalid" },
  { stage: "verify", reason: "jwks_unavailable" },
];
const CATALOGUE = new Set(
  failures.map((f) => {
    const w = toWireError(f);
    return `${w.status} ${w.error} ${w.description}`;
  }),
);

async function expectFixedError(response: Response, inputs: string | string[], priorGrants = 0): Promise<void> {
  const text = await response.text();
  expect(response.status).not.toBe(500);
  expect(response.status).not.toBe(200);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  expect(CATALOGUE).toContain(`${response.status} ${String(body.error)} ${String(body.error_description)}`);
  for (const input of [inputs].flat()) if (input.length >= 16) expect(text).not.toContain(input);
  expect(log.exchanges().filter((e) => e.outcome === "granted")).toHaveLength(priorGrants);
}

async function post(s: Scenario, body: BodyInit, contentType = "application/x-www-form-urlencoded"): Promise<Response> {
  return s.fetch(
    new Request("https://broker.test/token", { method: "POST", body, headers: { "content-type": contentType } }),
  );
}

const b64urlChar = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
const segment = fc.array(b64urlChar, { maxLength: 400 }).map((cs) => cs.join(""));
const hostileChar = fc.constantFrom(...'AQgw-_=+/. \n\t%\\"{}\u0000é\uFEFF');

describe("POST /token under random input (fast-check)", () => {
  it("answers random strings as subject_token with a fixed 4xx error, never a token", async () => {
    const s = scenario();
    const tokens = fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.tuple(segment, segment, segment).map((p) => p.join(".")),
      fc.array(segment, { minLength: 1, maxLength: 7 }).map((p) => p.join(".")),
      fc
        .tuple(fc.json({ maxDepth: 3 }), fc.json({ maxDepth: 3 }), segment)
        .map(
          ([h, p, sg]) =>
            `${btoa(unescape(encodeURIComponent(h))).replace(/=+$/, "")}.${btoa(unescape(encodeURIComponent(p))).replace(/=+$/, "")}.${sg}`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(tokens, async (token) => {
        fc.pre(token.length > 0);
        await expectFixedError(await s.exchange({ subject_token: token }), token);
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses every mutation of a valid token: one token, one accepted spelling, and no extra key fetches", async () => {
    const s = scenario();
    const valid = await s.token();
    expect((await s.exchange({ subject_token: valid })).status).toBe(200);
    const mutation = fc.oneof(
      fc.tuple(fc.nat(), hostileChar).map(([i, c]) => (t: string) => {
        const at = i % t.length;
        return t.slice(0, at) + c + t.slice(at + 1);
      }),
      fc.tuple(fc.nat(), hostileChar).map(([i, c]) => (t: string) => {
        const at = i % (t.length + 1);
        return t.slice(0, at) + c + t.slice(at);
      }),
      fc.nat().map((i) => (t: string) => {
        const at = i % t.length;
        return t.slice(0, at) + t.slice(at + 1);
      }),
      fc.nat().map((i) => (t: string) => t.slice(0, i % t.length)),
      fc.constantFrom(
        (t: string) => t.split(".").reverse().join("."),
        (t: string) => {
          const [h, p, sg] = t.split(".");
          return `${h}.${h}.${p}.${sg}`;
        },
        (t: string) => t.toUpperCase(),
        (t: string) => `${t}.${t}`,
        (t: string) => encodeURIComponent(t).replaceAll("-", "%2D"),
      ),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (mutate) => {
        const token = mutate(valid);
        fc.pre(token !== valid && token.length > 0);
        const response = await s.exchange({ subject_token: token });
        expect(response.status).toBe(400);
        await expectFixedError(response, token, 1);
      }),
      { numRuns: RUNS },
    );
    expect(await s.keyFetches()).toBe(1);
  });

  it("answers random form bodies (known and unknown names, repeated, garbage values) with a fixed error", async () => {
    const s = scenario();
    const names = fc.oneof(
      fc.constantFrom(...SINGLE_VALUED, "resource", "client_id", "GRANT_TYPE"),
      fc.string({ minLength: 1, maxLength: 40 }),
    );
    const values = fc.oneof(
      fc.constantFrom(TOKEN_EXCHANGE, ACCESS_TOKEN_TYPE, INVENTORY, "", "inventory.read"),
      fc.string({ maxLength: 80 }),
      segment,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(names, values), { maxLength: 12 }), async (pairs) => {
        const form = new URLSearchParams(pairs);
        // Our own parameter names and constants may appear in a description; nothing else may.
        const known = new Set<string>([...SINGLE_VALUED, TOKEN_EXCHANGE, ACCESS_TOKEN_TYPE]);
        await expectFixedError(
          await post(s, form.toString()),
          pairs.flat().filter((v) => !known.has(v)),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("answers arbitrary bytes under arbitrary content types with a fixed error, never a 500", async () => {
    const s = scenario();
    const contentType = fc.oneof(
      fc.constantFrom(
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin1",
        "application/json",
        "multipart/form-data; boundary=x",
        "",
      ),
      fc.string({ maxLength: 40 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), contentType, async (bytes, type) => {
        fc.pre(/^[\t\x20-\x7e]*$/.test(type));
        await expectFixedError(await post(s, bytes, type), "");
      }),
      { numRuns: RUNS },
    );
  });

  it("answers a valid form whose subject token is a randomly re-signed-looking JWT with a fixed error", async () => {
    const s = scenario();
    const header = fc.record(
      {
        alg: fc.constantFrom("RS256", "none", "HS256", "ES256", "PS256"),
        kid: fc.constantFrom("key-a", "key-b", "x"),
        typ: fc.constantFrom("JWT", "at+jwt"),
      },
      { requiredKeys: [] },
    );
    const claims = fc.dictionary(
      fc.constantFrom(
        "tid",
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "roles",
        "azp",
        "azpacr",
        "idtyp",
        "ver",
        "oid",
        "__proto__",
      ),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const enc = (v: unknown) =>
      btoa(unescape(encodeURIComponent(JSON.stringify(v))))
        .replaceAll("+", "-")
        .replaceAll("/", "_")
        .replace(/=+$/, "");
    await fc.assert(
      fc.asyncProperty(header, claims, segment, async (h, c, sg) => {
        const token = `${enc(h)}.${enc({ ...s.claims(), ...c })}.${sg || "AA"}`;
        await expectFixedError(await s.exchange({ subject_token: token }), token);
      }),
      { numRuns: RUNS },
    );
  });
});
