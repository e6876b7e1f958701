// Names a policy version: SHA-256 of the policy document in canonical JSON (object members sorted
// by name, no whitespace). The same rules give the same hash whether wrangler delivered them as a
// TOML table or a JSON string, so an audit event's policy_sha256 can be matched to a commit of
// wrangler.toml with `npm run policy -- check`, which prints the same value. Web Crypto only: this
// runs in the Worker and in the Node policy tool alike.

export async function policySha256(raw: unknown): Promise<string> {
  const doc = typeof raw === "string" ? JSON.parse(raw) : raw;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalJson(doc)));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
