import { err, ok, type Result } from "../../../worker/result.ts";

// Strict compact-JWS syntax, checked before any key is looked up or any crypto runs, so that
// malformed input costs a few string operations and one token has exactly one accepted spelling.

export type JwsProblem =
  | "token_too_large"
  | "token_malformed"
  | "header_invalid"
  | "alg_not_allowed"
  | "header_param_forbidden"
  | "kid_invalid"
  | "claims_malformed";

export interface ParsedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly kid: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly signingInput: Uint8Array;
  readonly signature: Uint8Array;
}

// Entra tokens grow with roles and optional claims; 16 KiB holds hundreds of roles and is still
// small enough that parsing an attacker's token stays cheap.
export const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_KID_LENGTH = 256; // real kids are ~30 chars; long ones only serve cache-key abuse
// Headers that would let the token choose its own key or change how it is processed
// (RFC 7515 §4.1, RFC 7797 b64, RFC 7516 zip): a verifier that honours any of them is exploitable.
const FORBIDDEN_HEADER_PARAMS = ["jku", "jwk", "x5u", "x5c", "crit", "b64", "zip", "enc"] as const;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
// ignoreBOM keeps a leading U+FEFF in the text, so JSON.parse refuses it (RFC 8259 §8.1): a BOM
// would otherwise be silently dropped, giving one claims set a second accepted byte spelling.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function parseCompactJws(token: string, allowedAlgs: readonly string[]): Result<ParsedJws, JwsProblem> {
  if (token.length > MAX_TOKEN_LENGTH) return err("token_too_large");
  const parts = token.split(".");
  if (parts.length !== 3) return err("token_malformed");
  const [h, p, s] = parts as [string, string, string];
  const headerBytes = decodeBase64Url(h);
  const payloadBytes = decodeBase64Url(p);
  const signature = decodeBase64Url(s);
  if (!headerBytes || !payloadBytes || !signature) return err("token_malformed");

  const header = parseJsonObject(headerBytes);
  if (!header) return err("header_invalid");
  if (typeof header.alg !== "string" || !allowedAlgs.includes(header.alg)) return err("alg_not_allowed");
  if (FORBIDDEN_HEADER_PARAMS.some((name) => Object.hasOwn(header, name))) return err("header_param_forbidden");
  if (header.typ !== undefined && header.typ !== "JWT") return err("header_invalid");
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH) return err("kid_invalid");

  const claims = parseJsonObject(payloadBytes);
  if (!claims) return err("claims_malformed");

  return ok({ header, kid, claims, signingInput: new TextEncoder().encode(`${h}.${p}`), signature });
}

// Only the unpadded RFC 4648 §5 alphabet, and only the one spelling whose unused trailing bits
// are zero: otherwise several strings decode to the same bytes.
export function decodeBase64Url(segment: string): Uint8Array | undefined {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return undefined;
  const last = segment.charCodeAt(segment.length - 1);
  const lastValue = base64UrlValue(last);
  if (segment.length % 4 === 2 && (lastValue & 0x0f) !== 0) return undefined;
  if (segment.length % 4 === 3 && (lastValue & 0x03) !== 0) return undefined;
  const binary = atob(segment.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function base64UrlValue(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  return code === 45 ? 62 : 63; // - or _
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined; // invalid UTF-8 (RFC 7519 §7.2 requires valid UTF-8)
  }
  if (hasDuplicateMemberOrDeepNesting(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

const MAX_JSON_DEPTH = 16; // claims sets are shallow; deep nesting only costs us stack and time

// RFC 7515 §4 and RFC 7519 §4: duplicate member names MUST be rejected (or the last taken),
// and different parsers take different ones, so we refuse them. A single pass over the text
// tracks member names per object; it also bounds nesting depth.
function hasDuplicateMemberOrDeepNesting(text: string): boolean {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return true;
        }
        if (top.has(key)) return true;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{") {
      if (stack.length >= MAX_JSON_DEPTH) return true;
      stack.push(new Set());
      expectKey = true;
    } else if (c === "[") {
      if (stack.length >= MAX_JSON_DEPTH) return true;
      stack.push(null);
      expectKey = false;
    } else if (c === "}" || c === "]") {
      stack.pop();
      expectKey = false;
    } else if (c === ",") {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return false;
}
