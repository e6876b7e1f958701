import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_LIFETIMES,
  RotationError,
  addKey,
  keyStatus,
  parseKeySet,
  promoteKey,
  retireKey,
  type KeySet,
} from "../../tools/key-rotation.ts";
import { main } from "../../tools/keys.ts";
import { JWKS_MAX_AGE_SECONDS } from "../../worker/jwks-max-age.ts";

// Key rotation: every step the tool refuses, at the exact second it stops refusing (time is an
// argument), and the CLI's exit codes and files.

const T0 = 1_800_000_000;
const LIFETIMES = { maxTokenTtlSeconds: 900, jwksMaxAgeSeconds: JWKS_MAX_AGE_SECONDS };
const WAIT = JWKS_MAX_AGE_SECONDS + 900;

async function twoKeys(): Promise<{ set: KeySet; first: string; second: string }> {
  const one = await addKey({ keys: [] }, "ES256", T0 - 100_000);
  const first = one.kid;
  const two = await addKey(one.set, "EdDSA", T0);
  return { set: two.set, first, second: two.kid };
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RotationError) return e.problem.reason;
    throw e;
  }
  throw new Error("not refused");
}

describe("promote", () => {
  it("is refused until the key has been published for the JWKS max-age plus the longest token lifetime", async () => {
    const { set, second } = await twoKeys();
    expect(refusal(() => promoteKey(set, second, T0 + WAIT - 1, LIFETIMES))).toBe("published_too_recently");
    const next = promoteKey(set, second, T0 + WAIT, LIFETIMES);
    expect(next.keys.map((k) => k.kid)[0]).toBe(second);
    expect(next.keys[1]!.signed_until).toBe(T0 + WAIT);
  });

  it("is refused for a key with no publication time, an unknown kid and the key that already signs", async () => {
    const { set, first, second } = await twoKeys();
    const { published_at: _, ...bare } = set.keys[1]!;
    expect(refusal(() => promoteKey({ keys: [set.keys[0]!, bare as never] }, second, T0 + 10 * WAIT, LIFETIMES))).toBe(
      "publication_unknown",
    );
    expect(refusal(() => promoteKey(set, "nope", T0 + WAIT, LIFETIMES))).toBe("key_not_found");
    expect(refusal(() => promoteKey(set, first, T0 + WAIT, LIFETIMES))).toBe("already_signing");
  });
});

describe("retire", () => {
  it("is refused for the signing key", async () => {
    const { set, first } = await twoKeys();
    expect(refusal(() => retireKey(set, first, T0, LIFETIMES))).toBe("retiring_signing_key");
  });

  it("is refused while tokens signed by the key can still be alive", async () => {
    const { set, first, second } = await twoKeys();
    const rotated = promoteKey(set, second, T0 + WAIT, LIFETIMES);
    expect(refusal(() => retireKey(rotated, first, T0 + WAIT + 899, LIFETIMES))).toBe("tokens_still_alive");
    expect(retireKey(rotated, first, T0 + WAIT + 900, LIFETIMES).keys.map((k) => k.kid)).toEqual([second]);
  });

  it("is allowed at once for a key that never signed", async () => {
    const { set, second } = await twoKeys();
    expect(retireKey(set, second, T0, LIFETIMES).keys).toHaveLength(1);
  });
});

describe("new and status", () => {
  it("refuses a ninth key, the broker's maximum being eight", async () => {
    let set: KeySet = { keys: [] };
    for (let i = 0; i < 8; i++) set = (await addKey(set, "ES256", T0)).set;
    await expect(addKey(set, "ES256", T0)).rejects.toThrow(RotationError);
  });

  it("says which key signs and when the others may be promoted or retired", async () => {
    const { set, first, second } = await twoKeys();
    expect(keyStatus(set, DEFAULT_LIFETIMES)).toEqual([
      { kid: first, alg: "ES256", role: "signing", publishedAt: T0 - 100_000 },
      { kid: second, alg: "EdDSA", role: "published", publishedAt: T0, readyAt: T0 + WAIT },
    ]);
  });

  it("refuses a value that is not a JWK set whose first key holds a private part", () => {
    expect(refusal(() => parseKeySet("not json"))).toBe("key_set_invalid");
    expect(refusal(() => parseKeySet('{"keys":{}}'))).toBe("key_set_invalid");
    expect(parseKeySet('{"keys":[]}').keys).toEqual([]);
    expect(refusal(() => parseKeySet('{"keys":[{"kid":"a","kty":"EC"}]}'))).toBe("key_set_invalid");
  });
});

describe("npm run keys (CLI)", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes the next value to --out (mode 0600), and exits 1 naming the refusal for an unsafe step", async () => {
    const stderr: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((text) => (stderr.push(String(text)), true));
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const dir = mkdtempSync(join(tmpdir(), "keys-"));
    const current = join(dir, "current.json");
    const next = join(dir, "next.json");
    writeFileSync(current, JSON.stringify((await addKey({ keys: [] }, "ES256", T0)).set));

    expect(await main(["new", "--in", current, "--out", next, "--max-token-ttl", "900"], T0)).toBe(0);
    expect(statSync(next).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(next, "utf8")) as KeySet;
    expect(written.keys).toHaveLength(2);
    const fresh = written.keys[1]!.kid;

    expect(await main(["promote", fresh, "--in", next, "--max-token-ttl", "900"], T0 + 60)).toBe(1);
    expect(stderr.join("")).toContain("refused (published_too_recently)");
    expect(await main(["retire", written.keys[0]!.kid, "--in", next, "--max-token-ttl", "900"], T0)).toBe(1);
    expect(stderr.join("")).toContain("refused (retiring_signing_key)");
    expect(await main(["promote", "--in", next, "--max-token-ttl", "900"], T0)).toBe(2);
    expect(await main(["promote", fresh, "--in", next, "--max-token-ttl", "900"], T0 + WAIT)).toBe(0);
  });
});
