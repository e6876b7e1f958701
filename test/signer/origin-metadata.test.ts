// `broker-signer exchange --for-origin`: the signer reads the origin's RFC 9728 metadata (served
// here by the origin kit itself) and exchanges for the resource it names, at its own broker only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../emulator/index.ts";
import { protectedResourceMetadata } from "../../origin/src/index.ts";
import { main } from "../../signer/cli.ts";
import { createHttpClient } from "../../signer/network.ts";
import { resourceForOrigin } from "../../signer/origin-metadata.ts";
import { type BrokerDouble, startBrokerDouble } from "./support/broker-double.ts";
import {
  BROKER_APP,
  certOnDisk,
  cleanupTempDirs,
  rejectedSignerError,
  signerEnv,
  startEntra,
  tempDir,
  tenantFile,
} from "./support/fixtures.ts";

const servers: Server[] = [];

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** An origin on loopback; `serve` gets its URL and returns what answers its requests. */
async function origin(serve: (self: string) => Handler): Promise<string> {
  let handler: Handler = () => {};
  const server = createServer((req, res) => handler(req, res, () => res.writeHead(404).end()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handler = serve(url);
  return url;
}

/** An origin whose metadata is served by the origin kit, naming `issuer` as its broker. */
const kitOrigin = (issuer: string) => origin((self) => protectedResourceMetadata({ resource: self, issuer }));
/** An origin that answers every request with `body` and `status`. */
const rawOrigin = (body: string, status = 200) => origin(() => (_req, res) => res.writeHead(status).end(body));

let dir: string;
let emu: Emulator;
let broker: BrokerDouble;
let env: Record<string, string>;

beforeAll(async () => {
  dir = tempDir();
  const cert = await certOnDisk(dir, "orders");
  emu = await startEntra(tenantFile({ certificates: [cert.certPem] }), `${dir}/emu`);
  broker = await startBrokerDouble({ allowedResources: [], expectedAudience: BROKER_APP });
  env = signerEnv(emu, {
    BROKER_SIGNER_KEY_FILE: cert.keyFile,
    BROKER_SIGNER_CERT_FILE: cert.certFile,
    BROKER_SIGNER_BROKER_URL: broker.url,
  });
}, 60_000);

afterAll(async () => {
  for (const s of servers) s.close();
  await broker?.close();
  await emu?.close();
  cleanupTempDirs();
});

describe("resourceForOrigin", () => {
  const http = createHttpClient(undefined);

  it("returns the origin the metadata names, when it names this signer's broker", async () => {
    const url = await kitOrigin(broker.url);
    expect(await resourceForOrigin(http, `${url}/items?x=1`, broker.url)).toBe(url);
  });

  it("refuses an origin that trusts another broker", async () => {
    const url = await kitOrigin("https://other-broker.example.com");
    const error = await rejectedSignerError(resourceForOrigin(http, url, broker.url));
    expect(error.code).toBe("ERR_REQUEST");
    expect(error.message).toMatch(
      /accepts tokens from \["https:\/\/other-broker.example.com"\], not from this signer's broker/,
    );
  });

  it("refuses metadata that names another resource (RFC 9728 §3.3)", async () => {
    const url = await rawOrigin(
      JSON.stringify({ resource: "https://payments.example.com", authorization_servers: [broker.url] }),
    );
    const error = await rejectedSignerError(resourceForOrigin(http, url, broker.url));
    expect(error.code).toBe("ERR_REQUEST");
    expect(error.message).toContain('names resource "https://payments.example.com"');
  });

  it("says when the origin publishes no metadata", async () => {
    const url = await rawOrigin("not found", 404);
    const error = await rejectedSignerError(resourceForOrigin(http, url, broker.url));
    expect(error.code).toBe("ERR_NETWORK");
    expect(error.message).toMatch(
      /answered 404: the origin does not publish RFC 9728 protected resource metadata; use --resource/,
    );
  });

  it("refuses a URL that is not http(s)", async () => {
    expect((await rejectedSignerError(resourceForOrigin(http, "ftp://x.example", broker.url))).code).toBe("ERR_USAGE");
  });
});

describe("broker-signer exchange --for-origin", () => {
  function run(args: string[]) {
    const out = { stdout: "", stderr: "" };
    const io = {
      stdout: (t: string) => void (out.stdout += t),
      stderr: (t: string) => void (out.stderr += t),
      env,
      cwd: dir,
    };
    return main(args, io).then((code) => ({ code, ...out }));
  }

  it("exchanges for the resource the origin's metadata names", async () => {
    let trusted = "";
    const url = await origin((self) => (req, res, next) => {
      protectedResourceMetadata({ resource: self, issuer: trusted })(req, res, next);
    });
    const granting = await startBrokerDouble({ allowedResources: [url], expectedAudience: BROKER_APP });
    trusted = granting.url;
    env.BROKER_SIGNER_BROKER_URL = granting.url;
    try {
      const r = await run(["exchange", "--for-origin", url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(/^downstream\./);
      expect(granting.requests.at(-1)?.get("resource")).toBe(url);
    } finally {
      env.BROKER_SIGNER_BROKER_URL = broker.url;
      await granting.close();
    }
  });

  it("exits 2 when given both --resource and --for-origin, or neither", async () => {
    for (const args of [
      ["exchange"],
      ["exchange", "--resource", "https://a.example.com", "--for-origin", "https://a.example.com"],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/give one of --resource ORIGIN .* or --for-origin URL/);
    }
  });
});
