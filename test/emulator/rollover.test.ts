// Signing key rollover like Entra's: a key is published before it signs, stays published after it
// stops, drops off only when told (or in the emergency rollover, at once); JWKS front ends can lag
// behind a rollover; each tenant with keys of its own rolls them independently.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { startEmulator, type Emulator } from "../../emulator/index.ts";
import { BROKER_V2, CLIENT, OTHER_TENANT, TENANT, createFixture, get, type Fixture } from "./support/fixtures.ts";

let f: Fixture;
let em: Emulator;
const FROZEN_MS = Date.UTC(2030, 0, 1, 12, 0, 0);

beforeAll(async () => {
  f = await createFixture();
  em = await startEmulator({ tenants: f.tenants, now: () => FROZEN_MS });
});
afterAll(() => em?.close());

const kidsOf = async (tenant: string) =>
  (await get(em, `${em.authority(tenant)}/discovery/v2.0/keys`)).body.keys.map((k: any) => k.kid) as string[];
const jwksOf = async (tenant: string) => (await get(em, `${em.authority(tenant)}/discovery/v2.0/keys`)).body;
const sign = async (tenant = TENANT) =>
  (await em.issueToken({ tenantId: tenant, clientId: CLIENT, resource: BROKER_V2 })).access_token;
const verifyWith = (token: string, jwks: unknown) =>
  jwtVerify(token, createLocalJWKSet(jwks as never), { currentDate: new Date(FROZEN_MS) });

describe("planned rollover", () => {
  it("signs with a key that an earlier JWKS already published, and keeps the old key published", async () => {
    const cached = await jwksOf(TENANT);
    const oldToken = await sign();
    const r = em.rotateSigningKeys();
    expect(r.retired).toBe(decodeProtectedHeader(oldToken).kid);
    const newToken = await sign();
    expect(decodeProtectedHeader(newToken).kid).toBe(r.active);
    // A verifier that cached the JWKS before the rollover verifies the new token without refetching.
    await expect(verifyWith(newToken, cached)).resolves.toBeDefined();
    // And the old token still verifies against the fresh JWKS: the retired key stays published.
    const fresh = await jwksOf(TENANT);
    await expect(verifyWith(oldToken, fresh)).resolves.toBeDefined();
    expect(fresh.keys.map((k: any) => k.kid)).toEqual(expect.arrayContaining([r.active, r.added, r.retired]));
    expect(em.signingKeys()).toMatchObject({ active: r.active, retired: [r.retired] });
  });

  it("unpublishes retired keys only when told (the end of Entra's weeks-long overlap)", async () => {
    const { retired } = em.signingKeys();
    expect(retired.length).toBeGreaterThan(0);
    expect(em.dropRetiredSigningKeys()).toEqual(retired);
    const kids = await kidsOf(TENANT);
    for (const kid of retired) expect(kids).not.toContain(kid);
    expect(kids).toContain(em.activeKid());
  });
});

describe("emergency rollover", () => {
  it("drops the signing key from the JWKS at once and signs with a kid no earlier JWKS had", async () => {
    const before = await kidsOf(TENANT);
    const oldToken = await sign();
    const r = em.rotateSigningKeys({ mode: "emergency" });
    const token = await sign();
    expect(decodeProtectedHeader(token).kid).toBe(r.added);
    expect(before).not.toContain(r.added);
    const after = await jwksOf(TENANT);
    expect(after.keys.map((k: any) => k.kid)).not.toContain(r.retired);
    await expect(verifyWith(oldToken, after)).rejects.toThrow();
    await expect(verifyWith(token, after)).resolves.toBeDefined();
  });
});

describe("lagging JWKS front ends (key-lag fault)", () => {
  it("makes consecutive fetches differ: every other answer lacks the newest published key", async () => {
    const lagging = em.addFault({ kind: "key-lag" });
    try {
      const { added } = em.rotateSigningKeys();
      const answers = [await kidsOf(TENANT), await kidsOf(TENANT), await kidsOf(TENANT), await kidsOf(TENANT)];
      expect(answers.map((kids) => kids.includes(added))).toEqual([true, false, true, false]);
      // The signing key itself is on every front end.
      for (const kids of answers) expect(kids).toContain(em.activeKid());
    } finally {
      em.clearFaults();
    }
    expect(lagging.endpoint).toBe("keys");
  });
});

describe("keys per tenant", () => {
  it("rolls a tenant's own keys without touching the shared ones", async () => {
    const sharedBefore = em.signingKeys();
    const ownBefore = em.signingKeys(OTHER_TENANT);
    const r = em.rotateSigningKeys({ tenant: OTHER_TENANT, mode: "emergency" });
    expect(r.retired).toBe(ownBefore.active);
    expect(em.signingKeys()).toEqual(sharedBefore);
    expect(await kidsOf(OTHER_TENANT)).toContain(r.added);
    expect(await kidsOf(TENANT)).not.toContain(r.added);
    const common = (await get(em, `${em.httpsOrigin}/common/discovery/v2.0/keys`)).body.keys;
    expect(common.find((k: any) => k.kid === r.added)?.issuer).toBe(`${em.httpsOrigin}/${OTHER_TENANT}/v2.0`);
  });

  it("shares one key scope between tenants without keys of their own, by id or domain", async () => {
    expect(em.signingKeys("contoso.example")).toEqual(em.signingKeys(TENANT));
    expect(() => em.signingKeys("nowhere.example")).toThrow(/unknown tenant 'nowhere.example'/);
  });
});
