import { describe, expect, it } from "vitest";
import { captureLog } from "../../worker/support/audit-log.ts";
import { b64url, scenario, type Scenario, compareWithExplain } from "../../worker/support/scenario.ts";
import {
  claimsText,
  craft,
  expectRefused,
  hits,
  hostileOrigin,
  invalidSubject,
  privateJwk,
  publicJwk,
  rs256,
} from "../support/adversary.ts";

// JWS/JWT parsing and signatures: the attacks that broke JWT libraries (alg none, HMAC keyed with the
// public key, key-carrying headers, parser differentials), each answered with the exact refusal, no
// token minted, and no network traffic caused by anything the token says.

const log = captureLog();
// Every exchange below is also explained, and both decisions must agree.
compareWithExplain();

async function refused(s: Scenario, token: string, reason: string) {
  await expectRefused(await s.exchange({ subject_token: token }), log, invalidSubject(reason), [token]);
}

/** Payload bytes of a valid token for this scenario. */
const validClaims = (s: Scenario) => s.claims();

async function hmac(hash: string, keyBytes: Uint8Array, input: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
}

async function publicKeyPem(): Promise<string> {
  const key = await crypto.subtle.importKey("jwk", publicJwk(), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, [
    "verify",
  ]);
  const der = new Uint8Array((await crypto.subtle.exportKey("spki", key)) as ArrayBuffer);
  const b64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

/** A token whose signature is an HMAC keyed with the published RSA public key (the classic alg confusion). */
async function hmacConfused(s: Scenario, alg: string, keyBytes: Uint8Array): Promise<string> {
  const hash = { HS256: "SHA-256", HS384: "SHA-384", HS512: "SHA-512", RS256: "SHA-256" }[alg]!;
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT", kid: "key-a" }))}.${b64url(JSON.stringify(validClaims(s)))}`;
  return `${input}.${b64url(await hmac(hash, keyBytes, input))}`;
}

/** A valid signature by key-a under another RSA algorithm (the key is right, the algorithm is not). */
async function otherRsaAlg(s: Scenario, alg: "PS256" | "RS384" | "RS512"): Promise<string> {
  const { alg: _ignored, ...jwk } = privateJwk() as JsonWebKey & { alg?: string };
  const params =
    alg === "PS256"
      ? { name: "RSA-PSS", hash: "SHA-256" }
      : { name: "RSASSA-PKCS1-v1_5", hash: alg === "RS384" ? "SHA-384" : "SHA-512" };
  const key = await crypto.subtle.importKey("jwk", { ...jwk, alg }, params, false, ["sign"]);
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT", kid: "key-a" }))}.${b64url(JSON.stringify(validClaims(s)))}`;
  const sig = await crypto.subtle.sign(
    alg === "PS256" ? { name: "RSA-PSS", saltLength: 32 } : "RSASSA-PKCS1-v1_5",
    key,
    new TextEncoder().encode(input),
  );
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

describe("alg none, in any spelling", () => {
  for (const alg of ["none", "None", "NONE", "nOnE"]) {
    it(`refuses alg "${alg}" with an empty signature (token_malformed) and with a signature (alg_not_allowed), fetching no keys`, async () => {
      const s = scenario();
      const input = `${b64url(JSON.stringify({ alg, typ: "JWT", kid: "key-a" }))}.${b64url(JSON.stringify(validClaims(s)))}`;
      await refused(s, `${input}.`, "token_malformed");
      await refused(s, `${input}.${b64url(new Uint8Array(256))}`, "alg_not_allowed");
      expect(await s.keyFetches()).toBe(0);
    });
  }
});

describe("algorithm confusion", () => {
  for (const alg of ["HS256", "HS384", "HS512"]) {
    it(`refuses ${alg} keyed with the published RSA key's PEM (alg_not_allowed, no key fetch)`, async () => {
      const s = scenario();
      await refused(s, await hmacConfused(s, alg, new TextEncoder().encode(await publicKeyPem())), "alg_not_allowed");
      expect(await s.keyFetches()).toBe(0);
    });
  }

  it("refuses HS256 keyed with the published JWK's JSON bytes", async () => {
    const s = scenario();
    await refused(
      s,
      await hmacConfused(s, "HS256", new TextEncoder().encode(JSON.stringify(publicJwk()))),
      "alg_not_allowed",
    );
  });

  it("refuses an HMAC signature under an RS256 header as signature_invalid (a short signature is not a 500)", async () => {
    const s = scenario();
    await refused(
      s,
      await hmacConfused(s, "RS256", new TextEncoder().encode(await publicKeyPem())),
      "signature_invalid",
    );
  });

  for (const alg of ["PS256", "RS384", "RS512"] as const) {
    it(`refuses a genuine key-a signature under ${alg}: the key is Entra's, the algorithm is not (alg_not_allowed)`, async () => {
      const s = scenario();
      await refused(s, await otherRsaAlg(s, alg), "alg_not_allowed");
    });
  }

  it("refuses the psychic signature (CVE-2022-21449): ES256 with r = s = 0", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({
        header: { alg: "ES256", typ: "JWT", kid: "key-a" },
        payload: validClaims(s),
        signature: new Uint8Array(64),
      }),
      "alg_not_allowed",
    );
    expect(await s.keyFetches()).toBe(0);
  });

  it("refuses the psychic signature in DER form (30 06 02 01 00 02 01 00)", async () => {
    const s = scenario();
    const der = new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
    await refused(
      s,
      await craft({ header: { alg: "ES256", typ: "JWT", kid: "key-a" }, payload: validClaims(s), signature: der }),
      "alg_not_allowed",
    );
  });

  for (const [name, alg] of [
    ["EdDSA", "EdDSA"],
    ["lower-case rs256", "rs256"],
    ["RS256 with a trailing space", "RS256 "],
    ["an array", ["RS256"]],
    ["a missing alg", undefined],
  ] as const) {
    it(`refuses ${name} as alg (alg_not_allowed)`, async () => {
      const s = scenario();
      await refused(
        s,
        await craft({ header: { alg, typ: "JWT", kid: "key-a" }, payload: validClaims(s) }),
        "alg_not_allowed",
      );
    });
  }

  it("accepts the same claims under RS256 with key-a (the control for every case above)", async () => {
    const s = scenario();
    expect((await s.exchange({ subject_token: await craft({ payload: validClaims(s) }) })).status).toBe(200);
  });
});

describe("headers that carry or point at keys", () => {
  const target = (s: Scenario, what: string) => `${hostileOrigin}/${s.tid}/${what}`;
  const cases: Array<[string, (s: Scenario) => Record<string, unknown>]> = [
    ["jku pointing at an attacker's JWKS", (s) => ({ jku: target(s, "jku") })],
    ["x5u pointing at an attacker's certificate", (s) => ({ x5u: target(s, "x5u") })],
    ["an embedded jwk (the attacker's own key)", () => ({ jwk: publicJwk("key-b") })],
    ["an embedded x5c chain", () => ({ x5c: ["MIIBszCCAVmgAwIBAgIUQ"] })],
    ["crit naming exp", () => ({ crit: ["exp"] })],
    ["an empty crit", () => ({ crit: [] })],
    ["an unencoded payload (b64 false, RFC 7797)", () => ({ b64: false, crit: ["b64"] })],
    ["a compressed payload (zip DEF)", () => ({ zip: "DEF" })],
    ["a JWE enc member", () => ({ enc: "A256GCM" })],
    ["a jku that is null", () => ({ jku: null })],
  ];
  for (const [name, extra] of cases) {
    it(`refuses ${name} (header_param_forbidden) and fetches nothing`, async () => {
      const s = scenario();
      // Signed with key-b and published nowhere: only the header could make this token verify.
      const token = await craft({
        header: { alg: "RS256", typ: "JWT", kid: "key-b", ...extra(s) },
        payload: validClaims(s),
        kid: "key-b",
      });
      await refused(s, token, "header_param_forbidden");
      expect(await s.keyFetches()).toBe(0);
      expect(await hits(`/${s.tid}/`)).toBe(0);
    });
  }

  it("refuses a jku even when it names the configured key endpoint itself", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({ header: { alg: "RS256", typ: "JWT", kid: "key-a", jku: s.jwksUrl }, payload: validClaims(s) }),
      "header_param_forbidden",
    );
    expect(await s.keyFetches()).toBe(0);
  });
});

describe("hostile kid values", () => {
  for (const kid of ["", 1, null, {}, ["key-a"], "k".repeat(257)] as const) {
    it(`refuses kid ${JSON.stringify(kid).slice(0, 24)} (kid_invalid) before any fetch`, async () => {
      const s = scenario();
      await refused(
        s,
        await craft({ header: { alg: "RS256", typ: "JWT", kid }, payload: validClaims(s) }),
        "kid_invalid",
      );
      expect(await s.keyFetches()).toBe(0);
    });
  }

  for (const kid of [
    "../../../etc/passwd",
    "key-a/../key-b",
    "key-a\u0000",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "KEY-A",
    "' OR '1'='1",
    "https://attacker.example/keys",
  ]) {
    it(`treats kid ${JSON.stringify(kid)} as an unknown key (key_not_found), one fetch at most`, async () => {
      const s = scenario();
      await refused(
        s,
        await craft({ header: { alg: "RS256", typ: "JWT", kid }, payload: validClaims(s) }),
        "key_not_found",
      );
      expect(await s.keyFetches()).toBe(1);
    });
  }

  it("ignores a kid that is a URL of the hostile endpoint: nothing is fetched from it", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({
        header: { alg: "RS256", typ: "JWT", kid: `${hostileOrigin}/${s.tid}/kid` },
        payload: validClaims(s),
      }),
      "key_not_found",
    );
    expect(await hits(`/${s.tid}/`)).toBe(0);
  });
});

describe("JWE, nested and detached forms", () => {
  it("refuses a five-part JWE (token_malformed)", async () => {
    const s = scenario();
    const h = b64url(JSON.stringify({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: "key-a" }));
    await refused(
      s,
      `${h}.${b64url(new Uint8Array(256))}.${b64url(new Uint8Array(12))}.${b64url(new Uint8Array(64))}.${b64url(new Uint8Array(16))}`,
      "token_malformed",
    );
  });

  for (const alg of ["RSA-OAEP-256", "dir"]) {
    it(`refuses a three-part token with the JWE alg ${alg} (alg_not_allowed)`, async () => {
      const s = scenario();
      await refused(
        s,
        await craft({ header: { alg, enc: "A256GCM", kid: "key-a" }, payload: validClaims(s) }),
        "alg_not_allowed",
      );
    });
  }

  it("refuses a nested JWT (cty JWT, the payload is itself a JWT) as claims_malformed even when signed", async () => {
    const s = scenario();
    const inner = await s.token();
    await refused(
      s,
      await craft({ header: { alg: "RS256", typ: "JWT", cty: "JWT", kid: "key-a" }, payload: inner }),
      "claims_malformed",
    );
  });

  for (const [name, mangle] of [
    ["a detached payload (h..s)", (t: string) => t.replace(/\.[^.]+\./, "..")],
    ["two parts", (t: string) => t.split(".").slice(0, 2).join(".")],
    ["four parts", (t: string) => `${t}.`],
    ["an empty token of dots", () => ".."],
  ] as const) {
    it(`refuses ${name} (token_malformed)`, async () => {
      const s = scenario();
      await refused(s, mangle(await s.token()), "token_malformed");
    });
  }
});

/** The base64url segment with its lowest unused trailing bit set: decodes to the same bytes, a second spelling. */
function withTrailingBits(segment: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return segment.slice(0, -1) + alphabet[alphabet.indexOf(segment.at(-1)!) | 0x01];
}

/** A valid token whose segment lengths satisfy `want` (padding claims and header until they do). */
async function tokenWhere(s: Scenario, want: (lengths: number[]) => boolean): Promise<string> {
  for (let pad = 0; pad < 64; pad++) {
    const token = await craft({
      header: { alg: "RS256", typ: "JWT", kid: "key-a", x: "y".repeat(pad % 4) },
      payload: { ...validClaims(s), pad: "p".repeat(pad >> 2) },
    });
    if (want(token.split(".").map((seg) => seg.length % 4)) && /[-_]/.test(token)) return token;
  }
  throw new Error("no such token");
}
const spareBitsEverywhere = (m: number[]) => m.every((r) => r !== 0);

describe("one token, exactly one accepted spelling", () => {
  const variants: Array<[string, (t: string) => string]> = [
    ["'=' padding on the header", (t) => t.replace(".", "=.")],
    ["'==' padding on the signature", (t) => `${t}==`],
    [
      "'=' padding on the payload",
      (t) => {
        const [h, p, sg] = t.split(".");
        return `${h}.${p}=.${sg}`;
      },
    ],
    [
      "a space inside the payload",
      (t) => {
        const [h, p, sg] = t.split(".");
        return `${h}.${p!.slice(0, 10)} ${p!.slice(10)}.${sg}`;
      },
    ],
    ["a newline inside the signature", (t) => `${t.slice(0, -20)}\n${t.slice(-20)}`],
    ["a leading space", (t) => ` ${t}`],
    ["a trailing tab", (t) => `${t}\t`],
    ["the standard base64 alphabet (+ and /)", (t) => t.replaceAll("-", "+").replaceAll("_", "/")],
    [
      "one extra base64 character in the payload (length ≡ 1 mod 4)",
      (t) => {
        const [h, p, sg] = t.split(".");
        return `${h}.${p}A.${sg}`;
      },
    ],
    [
      "non-zero trailing bits in the header",
      (t) => {
        const [h, p, sg] = t.split(".");
        return `${withTrailingBits(h!)}.${p}.${sg}`;
      },
    ],
    [
      "non-zero trailing bits in the payload",
      (t) => {
        const [h, p, sg] = t.split(".");
        return `${h}.${withTrailingBits(p!)}.${sg}`;
      },
    ],
    [
      "non-zero trailing bits in the signature",
      (t) => {
        const [h, p, sg] = t.split(".");
        return `${h}.${p}.${withTrailingBits(sg!)}`;
      },
    ],
  ];
  for (const [name, mangle] of variants) {
    it(`accepts the canonical spelling and refuses ${name} (token_malformed)`, async () => {
      const s = scenario();
      const token = await tokenWhere(s, name.includes("extra") ? (m) => m[1] === 0 : spareBitsEverywhere);
      const variant = mangle(token);
      expect(variant).not.toBe(token);
      await refused(s, variant, "token_malformed");
      expect((await s.exchange({ subject_token: token })).status).toBe(200);
    });
  }
});

describe("invalid UTF-8 and byte-order marks", () => {
  const utf8 = (s: Scenario, bad: number[]) => {
    const text = new TextEncoder().encode(claimsText(s, '"x":"X"'));
    const at = text.lastIndexOf(0x58); // the X
    return new Uint8Array([...text.slice(0, at), ...bad, ...text.slice(at + 1)]);
  };
  for (const [name, bytes] of [
    ["a stray 0xFF byte", [0xff]],
    ["an overlong '/' (C0 AF)", [0xc0, 0xaf]],
    ["a UTF-8-encoded lone surrogate (ED A0 80)", [0xed, 0xa0, 0x80]],
    ["a truncated sequence (E2 82)", [0xe2, 0x82]],
    ["Latin-1 'é' (E9)", [0xe9]],
  ] as const) {
    it(`refuses a signed payload with ${name} (claims_malformed)`, async () => {
      const s = scenario();
      await refused(s, await craft({ payload: utf8(s, [...bytes]) }), "claims_malformed");
    });
  }

  it("refuses a header with invalid UTF-8 (header_invalid)", async () => {
    const s = scenario();
    const header = new Uint8Array([
      ...new TextEncoder().encode('{"alg":"RS256","kid":"key-a","x":"'),
      0xff,
      ...new TextEncoder().encode('"}'),
    ]);
    await refused(s, await craft({ header, payload: validClaims(s) }), "header_invalid");
  });

  it("refuses a signed payload that starts with a UTF-8 BOM (RFC 8259 §8.1: JSON text has none)", async () => {
    const s = scenario();
    const payload = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(validClaims(s)))]);
    await refused(s, await craft({ payload }), "claims_malformed");
  });

  it("refuses a header that starts with a UTF-8 BOM", async () => {
    const s = scenario();
    const header = new Uint8Array([
      0xef,
      0xbb,
      0xbf,
      ...new TextEncoder().encode(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "key-a" })),
    ]);
    await refused(s, await craft({ header, payload: validClaims(s) }), "header_invalid");
  });
});

describe("claim sets that are not one plain JSON object", () => {
  for (const payload of ["[]", '"claims"', "123", "null", "true", "{", '{"a":1}x', "{'tid':1}"]) {
    it(`refuses the signed payload ${payload} (claims_malformed)`, async () => {
      const s = scenario();
      await refused(s, await craft({ payload }), "claims_malformed");
    });
  }

  for (const header of ["[]", "null", '"RS256"']) {
    it(`refuses the header ${header} (header_invalid)`, async () => {
      const s = scenario();
      await refused(s, await craft({ header, payload: validClaims(s) }), "header_invalid");
    });
  }

  it("refuses typ at+jwt or any typ but JWT (header_invalid)", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({ header: { alg: "RS256", typ: "at+jwt", kid: "key-a" }, payload: validClaims(s) }),
      "header_invalid",
    );
  });
});

describe("duplicate JSON members (parser differentials)", () => {
  it("refuses a header with alg twice, none then RS256 (header_invalid)", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({ header: '{"alg":"none","alg":"RS256","kid":"key-a"}', payload: validClaims(s) }),
      "header_invalid",
    );
  });

  it("refuses a header with kid twice", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({ header: '{"alg":"RS256","kid":"nope","kid":"key-a"}', payload: validClaims(s) }),
      "header_invalid",
    );
  });

  for (const [name, extra] of [
    ["roles twice", '"roles":["Deploy.Write"]'],
    ["roles twice, the second spelled with a \\u escape", '"\\u0072oles":["Deploy.Write"]'],
    ["tid twice", `"tid":"${crypto.randomUUID()}"`],
    ["a duplicate inside a nested object", '"xms":{"a":1,"a":2}'],
  ] as const) {
    it(`refuses a signed payload with ${name} (claims_malformed)`, async () => {
      const s = scenario();
      await refused(s, await craft({ payload: claimsText(s, extra) }), "claims_malformed");
    });
  }
});

describe("__proto__ and other prototype tricks in claims", () => {
  const drop = (s: Scenario, name: string) => {
    const c = s.claims();
    delete c[name];
    return c;
  };

  it("does not let a __proto__ member supply missing roles: the caller has none (no_roles)", async () => {
    const s = scenario();
    const payload = `${JSON.stringify(drop(s, "roles")).slice(0, -1)},"__proto__":{"roles":["Inventory.Read"]}}`;
    await expectRefused(await s.exchange({ subject_token: await craft({ payload }) }), log, {
      status: 400,
      error: "invalid_target",
      reason: "no_roles",
    });
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
  });

  it("does not let a __proto__ member supply idtyp (idtyp_missing)", async () => {
    const s = scenario();
    const payload = `${JSON.stringify(drop(s, "idtyp")).slice(0, -1)},"__proto__":{"idtyp":"app"}}`;
    await refused(s, await craft({ payload }), "idtyp_missing");
  });

  it("does not let a __proto__ member supply the client id (client_id_missing)", async () => {
    const s = scenario();
    const payload = `${JSON.stringify(drop(s, "azp")).slice(0, -1)},"__proto__":{"azp":"33333333-3333-4333-8333-333333333333"}}`;
    await refused(s, await craft({ payload }), "client_id_missing");
  });

  for (const acr of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    it(`refuses azpacr "${acr}" even when client secrets are allowed: no inherited property is an auth method (client_id_missing)`, async () => {
      const s = scenario();
      const response = await s.exchange(
        { subject_token: await s.token({ claims: { azpacr: acr } }) },
        { REQUIRE_CERTIFICATE_CLIENTS: "false" },
      );
      await expectRefused(response, log, invalidSubject("client_id_missing"));
    });
  }
});

describe("size and depth", () => {
  it("refuses a token one character over 16 KiB (token_too_large) before any fetch", async () => {
    const s = scenario();
    const token = await craft({ payload: { ...validClaims(s), pad: "x".repeat(16 * 1024) } });
    await refused(s, token.slice(0, 16 * 1024 + 1), "token_too_large");
    expect(await s.keyFetches()).toBe(0);
  });

  it("accepts a valid token just under 16 KiB (the limit is not below real tokens)", async () => {
    const s = scenario();
    let pad = 11_000;
    let token = await craft({ payload: { ...validClaims(s), pad: "x".repeat(pad) } });
    pad += Math.floor(((16 * 1024 - token.length) * 3) / 4) - 4;
    token = await craft({ payload: { ...validClaims(s), pad: "x".repeat(pad) } });
    expect(token.length).toBeLessThanOrEqual(16 * 1024);
    expect(token.length).toBeGreaterThan(16 * 1024 - 16);
    expect((await s.exchange({ subject_token: token })).status).toBe(200);
  });

  it("refuses a 20 KiB subject_token inside a body under the 32 KiB cap (token_too_large)", async () => {
    const s = scenario();
    await refused(s, "e".repeat(20 * 1024), "token_too_large");
  });

  it("refuses claims nested 17 deep (claims_malformed)", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({ payload: claimsText(s, `"deep":${"[".repeat(16)}${"]".repeat(16)}`) }),
      "claims_malformed",
    );
  });

  it("refuses 5,000 levels of nesting without exhausting the stack (claims_malformed, not 500)", async () => {
    const s = scenario();
    await refused(s, await craft({ payload: `${"[".repeat(5000)}${"]".repeat(5000)}` }), "claims_malformed");
  });

  it("refuses a deeply nested header (header_invalid)", async () => {
    const s = scenario();
    await refused(
      s,
      await craft({
        header: `{"alg":"RS256","kid":"key-a","x":${'{"a":'.repeat(20)}1${"}".repeat(20)}}`,
        payload: validClaims(s),
      }),
      "header_invalid",
    );
  });
});

describe("signatures", () => {
  it("refuses a one-byte RSA signature as signature_invalid, not a 500", async () => {
    const s = scenario();
    const [h, p] = (await s.token()).split(".");
    await refused(s, `${h}.${p}.AA`, "signature_invalid");
  });

  it("refuses a signature one byte longer than the modulus", async () => {
    const s = scenario();
    const [h, p] = (await s.token()).split(".");
    await refused(s, `${h}.${p}.${b64url(new Uint8Array(257).fill(1))}`, "signature_invalid");
  });

  it("refuses an all-zero 256-byte signature", async () => {
    const s = scenario();
    const [h, p] = (await s.token()).split(".");
    await refused(s, `${h}.${p}.${b64url(new Uint8Array(256))}`, "signature_invalid");
  });

  it("refuses a valid signature moved onto another scenario's payload", async () => {
    const s = scenario();
    const token = await s.token();
    const [h, , sig] = token.split(".");
    const payload = b64url(JSON.stringify({ ...validClaims(s), roles: ["Inventory.Read", "Deploy.Write"] }));
    await refused(s, `${h}.${payload}.${sig}`, "signature_invalid");
    const ok = await rs256(`${h}.${payload}`);
    expect((await s.exchange({ subject_token: `${h}.${payload}.${b64url(ok)}` })).status).toBe(200);
  });
});
