import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256Hex, sha256Key } from "../../origin/src/sha256.ts";

// The verified-token cache's key: it must be SHA-256 exactly, or two tokens could share a cache
// entry. Checked against Web Crypto, on the FIPS 180-4 examples and on arbitrary strings.

async function webCryptoHex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return Buffer.from(digest).toString("hex");
}

describe("sha256Hex", () => {
  it.each([
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
  ])("matches the FIPS 180-4 example %j", (input, hex) => {
    expect(sha256Hex(input)).toBe(hex);
  });

  it("matches Web Crypto at every padding boundary (0-300 bytes)", async () => {
    for (let n = 0; n <= 300; n++) {
      const input = "a".repeat(n);
      expect(sha256Hex(input)).toBe(await webCryptoHex(input));
    }
  });

  it("keys the cache with the same 256 bits, as 16 UTF-16 units", () => {
    const key = sha256Key("abc");
    expect(key).toHaveLength(16);
    const units = Array.from({ length: 16 }, (_, i) => key.charCodeAt(i).toString(16).padStart(4, "0"));
    expect(units.join("")).toBe(sha256Hex("abc"));
  });

  it("matches Web Crypto on arbitrary strings, multi-byte UTF-8 included", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 2000 }), async (input) => {
        expect(sha256Hex(input)).toBe(await webCryptoHex(input));
      }),
      { numRuns: 300 },
    );
  });
});
