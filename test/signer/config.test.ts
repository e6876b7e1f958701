import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../signer/config.ts";
import { cleanupTempDirs, tempDir, thrownSignerError } from "./support/fixtures.ts";

const TENANT = "9b1c2a4e-5f6d-4e7a-8b9c-0d1e2f3a4b5c";
const CLIENT = "a1a1a1a1-b2b2-4c3c-8d4d-e5e5e5e5e5e5";
const base = {
  BROKER_SIGNER_TENANT_ID: TENANT,
  BROKER_SIGNER_CLIENT_ID: CLIENT,
  BROKER_SIGNER_KEY_FILE: "/k/key.pem",
  BROKER_SIGNER_CERT_FILE: "/k/cert.pem",
};

afterAll(cleanupTempDirs);

describe("loadConfig", () => {
  it("builds a frozen config from environment variables, pinning the v2 token endpoint", () => {
    const c = loadConfig({}, base, "/");
    expect(c).toMatchObject({
      tenantId: TENANT,
      clientId: CLIENT,
      authorityHost: "https://login.microsoftonline.com",
      authority: `https://login.microsoftonline.com/${TENANT}`,
      tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
      credential: {
        kind: "certificate",
        certificates: [{ kind: "pem", keyFile: "/k/key.pem", certFile: "/k/cert.pem" }],
      },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("reads a config file, resolving relative paths against the file's directory; env overrides the file; flags override env", () => {
    const dir = tempDir();
    const file = join(dir, "signer.json");
    writeFileSync(
      file,
      JSON.stringify({
        tenantId: "contoso.onmicrosoft.com",
        clientId: CLIENT,
        authorityHost: "https://login.microsoftonline.us",
        certificates: [
          { keyFile: "old-key.pem", certFile: "old-cert.pem" },
          { pfxFile: "new.pfx", pfxPassphraseFile: "new.pass" },
        ],
        brokerUrl: "https://broker.example.com/",
        brokerScope: "api://broker/.default",
        socketPath: "run/signer.sock",
      }),
    );
    const c = loadConfig({}, { BROKER_SIGNER_CONFIG: file }, "/");
    expect(c.tokenEndpoint).toBe("https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
    expect(c.credential).toEqual({
      kind: "certificate",
      certificates: [
        { kind: "pem", keyFile: join(dir, "old-key.pem"), certFile: join(dir, "old-cert.pem") },
        { kind: "pfx", pfxFile: join(dir, "new.pfx"), passphraseFile: join(dir, "new.pass") },
      ],
    });
    expect(c.brokerUrl).toBe("https://broker.example.com");
    expect(c.socketPath).toBe(join(dir, "run/signer.sock"));
    expect(loadConfig({}, { BROKER_SIGNER_CONFIG: file, BROKER_SIGNER_TENANT_ID: TENANT }, "/").tenantId).toBe(TENANT);
    expect(
      loadConfig({ tenantId: "fabrikam.example" }, { BROKER_SIGNER_CONFIG: file, BROKER_SIGNER_TENANT_ID: TENANT }, "/")
        .tenantId,
    ).toBe("fabrikam.example");
  });

  it("falls back to the AZURE_* variables Kubernetes workload identity sets", () => {
    const c = loadConfig(
      {},
      {
        AZURE_TENANT_ID: TENANT,
        AZURE_CLIENT_ID: CLIENT,
        AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
      },
      "/",
    );
    expect(c.credential).toEqual({
      kind: "federated",
      tokenFile: "/var/run/secrets/azure/tokens/azure-identity-token",
    });
  });

  it.each([
    [
      "a missing tenant",
      { ...base, BROKER_SIGNER_TENANT_ID: undefined },
      /tenant: not set; set BROKER_SIGNER_TENANT_ID/,
    ],
    ["a multi-tenant alias", { ...base, BROKER_SIGNER_TENANT_ID: "common" }, /"common" is not a tenant/],
    [
      "a client id that is not a GUID",
      { ...base, BROKER_SIGNER_CLIENT_ID: "orders" },
      /BROKER_SIGNER_CLIENT_ID: "orders" is not an application \(client\) id/,
    ],
    [
      "an http authority host",
      { ...base, BROKER_SIGNER_AUTHORITY_HOST: "http://localhost:1234" },
      /must be an https URL/,
    ],
    [
      "an authority host with a path",
      { ...base, BROKER_SIGNER_AUTHORITY_HOST: "https://login.microsoftonline.com/tenant" },
      /origin only/,
    ],
    [
      "no credential",
      { BROKER_SIGNER_TENANT_ID: TENANT, BROKER_SIGNER_CLIENT_ID: CLIENT },
      /credential: none configured/,
    ],
    [
      "a key file without its certificate",
      { ...base, BROKER_SIGNER_CERT_FILE: undefined },
      /BROKER_SIGNER_CERT_FILE: must be set together with BROKER_SIGNER_KEY_FILE/,
    ],
    ["both a certificate and a federated token", { ...base, BROKER_SIGNER_FEDERATED_TOKEN_FILE: "/t" }, /choose one/],
    [
      "a broker over plain http to another host",
      { ...base, BROKER_SIGNER_BROKER_URL: "http://broker.example.com" },
      /https \(http only for localhost\)/,
    ],
    ["an abstract socket", { ...base, BROKER_SIGNER_SOCKET: "@signer" }, /abstract sockets are not allowed/],
    [
      "a broker scope without /.default",
      { ...base, BROKER_SIGNER_BROKER_SCOPE: "api://broker/Tokens.Exchange" },
      /must end with \/.default/,
    ],
  ])("refuses %s with a message naming the setting", (_name, env, message) => {
    const e = thrownSignerError(() => loadConfig({}, env as NodeJS.ProcessEnv, "/"));
    expect(e.code).toBe("ERR_CONFIG");
    expect(e.message).toMatch(message);
  });

  it("refuses key material where a key file path belongs, without echoing it", () => {
    const pem =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";
    const e = thrownSignerError(() => loadConfig({}, { ...base, BROKER_SIGNER_KEY_FILE: pem }, "/"));
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).toContain("BROKER_SIGNER_KEY_FILE");
    expect(e.message).not.toContain("MIIEvQ");
  });

  it("refuses unknown keys in the config file and more than two certificates", () => {
    const dir = tempDir();
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ tenantId: TENANT, clientId: CLIENT, privateKey: "x" }));
    expect(thrownSignerError(() => loadConfig({ configFile: file }, {}, "/")).message).toMatch(
      /config file key "privateKey": unknown setting/,
    );
    const three = Array.from({ length: 3 }, (_, i) => ({ keyFile: `k${i}`, certFile: `c${i}` }));
    writeFileSync(file, JSON.stringify({ tenantId: TENANT, clientId: CLIENT, certificates: three }));
    expect(thrownSignerError(() => loadConfig({ configFile: file }, {}, "/")).message).toMatch(/at most 2/);
  });

  it("reports every problem at once, like the broker's config", () => {
    const e = thrownSignerError(() =>
      loadConfig(
        {},
        {
          BROKER_SIGNER_TENANT_ID: "common",
          BROKER_SIGNER_CLIENT_ID: "orders",
          BROKER_SIGNER_KEY_FILE: "/k/key.pem",
          BROKER_SIGNER_AUTHORITY_HOST: "http://login.example",
          BROKER_SIGNER_BROKER_URL: "http://broker.example.com",
          BROKER_SIGNER_BROKER_SCOPE: "api://broker/Tokens.Exchange",
          BROKER_SIGNER_SOCKET: "@signer",
        },
        "/",
      ),
    );
    expect(e.code).toBe("ERR_CONFIG");
    expect(e.message).toMatch(/^7 problems in the signer's configuration:/);
    for (const fragment of [
      /"common" is not a tenant/,
      /"orders" is not an application \(client\) id/,
      /BROKER_SIGNER_CERT_FILE: must be set together with BROKER_SIGNER_KEY_FILE/,
      /must be an https URL/,
      /https \(http only for localhost\)/,
      /must end with \/.default/,
      /abstract sockets are not allowed/,
    ])
      expect(e.message).toMatch(fragment);
  });

  it("lists every unknown key of a config file in one problem, beside the other problems", () => {
    const file = join(tempDir(), "c.json");
    writeFileSync(file, JSON.stringify({ tenantId: TENANT, privateKey: "x", clientSecret: "y" }));
    const e = thrownSignerError(() => loadConfig({ configFile: file }, {}, "/"));
    expect(e.message).toMatch(/config file keys "privateKey", "clientSecret": unknown settings/);
    expect(e.message).toMatch(/client id: not set/);
  });

  it("makes key material pasted into a setting the error's code even among other problems", () => {
    const e = thrownSignerError(() =>
      loadConfig(
        {},
        { ...base, BROKER_SIGNER_CLIENT_ID: "x", BROKER_SIGNER_CERT_FILE: "-----BEGIN PRIVATE KEY-----" },
        "/",
      ),
    );
    expect(e.code).toBe("ERR_KEY_UNSAFE");
    expect(e.message).toMatch(/2 problems/);
  });
});

describe("a forgotten BROKER_SIGNER_CONFIG", () => {
  it("says that no config file was read and how to point at one", () => {
    const e = thrownSignerError(() => loadConfig({}, {}, "/"));
    expect(e.message).toMatch(/tenant: not set/);
    expect(e.message).toMatch(/No config file was read: neither --config nor BROKER_SIGNER_CONFIG is set/);
    expect(e.message).toContain("export BROKER_SIGNER_CONFIG=/path/to/signer.json");
  });

  it("names the config file that was read when it lacks a setting", () => {
    const file = join(tempDir(), "signer.json");
    writeFileSync(file, JSON.stringify({ clientId: CLIENT, certificates: [{ keyFile: "k", certFile: "c" }] }));
    const e = thrownSignerError(() => loadConfig({}, { BROKER_SIGNER_CONFIG: file }, "/"));
    expect(e.message).toMatch(/tenant: not set/);
    expect(e.message).toContain(`The config file read was ${file}`);
  });

  it("says which config file could not be read", () => {
    const e = thrownSignerError(() => loadConfig({}, { BROKER_SIGNER_CONFIG: "/nowhere/signer.json" }, "/"));
    expect(e.message).toMatch(/config file: cannot read \/nowhere\/signer.json \(ENOENT\)/);
  });
});
