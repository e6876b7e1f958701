import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IDENTITIES, samplePolicy, TENANT_ID } from "../../dev/sample.ts";
import {
  policyTool,
  REPO,
  SAMPLE_ORIGINS,
  sampleTenantFile,
  sampleVars,
  tempDir,
  writeConfig,
  xmlTexts,
} from "./policy-tool.ts";

// `npm run policy`: the offline policy tool, run as a child process on wrangler configuration files.

type Vars = Record<string, unknown>;
type Rule = ReturnType<typeof samplePolicy>["rules"][number];

function withRules(edit: (rules: Rule[]) => unknown[], vars: Vars = sampleVars()): Vars {
  const policy = vars.POLICY as { rules: Rule[] };
  return { ...vars, POLICY: { rules: edit(structuredClone(policy.rules)) } };
}

function check(vars: Vars, extra: string[] = []) {
  const dir = tempDir();
  return policyTool(["check", "--config", writeConfig(dir, { vars }), ...extra]);
}

describe("policy check", () => {
  it("accepts the repository's wrangler.toml and prints the policy_sha256 audit events carry", () => {
    const run = policyTool(["check"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(
      /^wrangler\.toml: ok: 1 rule, 0 routes, 0 warnings; policy_sha256 [0-9a-f]{64}; BROKER_SIGNING_KEYS not checked: it is a secret, set it in the environment to check it\n$/,
    );
  });

  it("accepts the npm start sample with no warnings, its roles all assigned in the tenant file", () => {
    const dir = tempDir();
    const run = policyTool([
      "check",
      "--config",
      writeConfig(dir, { vars: sampleVars() }),
      "--tenant-file",
      sampleTenantFile(dir),
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("ok: 3 rules, 3 routes, 0 warnings");
  });

  it("gives a TOML table and the same policy as a JSON string one policy_sha256", () => {
    const hash = (vars: Vars) => /policy_sha256 ([0-9a-f]{64})/.exec(check(vars).stdout)?.[1];
    const table = hash(sampleVars());
    expect(table).toBeDefined();
    expect(hash({ ...sampleVars(), POLICY: JSON.stringify(sampleVars().POLICY) })).toBe(table);
    expect(hash(withRules((rules) => rules.reverse()))).not.toBe(table);
  });

  const broken: Array<[string, Vars, string[]]> = [
    [
      "a lifetime of zero",
      withRules(([first, ...rest]) => [{ ...first!, grant: { ...first!.grant, maxTtlSeconds: 0 } }, ...rest]),
      ['POLICY rule "orders-reads-inventory": grant.maxTtlSeconds: must be a whole number of seconds'],
    ],
    [
      "an origin with a path and a misspelt match field",
      withRules(([first, ...rest]) => [
        {
          ...first!,
          match: { ...first!.match, role: ["x"] },
          grant: { ...first!.grant, origins: ["https://a.example/x"] },
        },
        ...rest,
      ]),
      [
        'POLICY rule "orders-reads-inventory": match.role: unknown field',
        'POLICY rule "orders-reads-inventory": grant.origins[0]: "https://a.example/x" is not a canonical origin',
      ],
    ],
    [
      "two rules with one name",
      withRules((rules) => [...rules, rules[0]]),
      ['POLICY rule "orders-reads-inventory": name: duplicate rule name'],
    ],
    [
      "a route to a non-canonical origin",
      {
        ...sampleVars(),
        ROUTES: { routes: [{ name: "bad", match: { pathPrefix: "/x" }, origin: "HTTPS://X.example", scopes: {} }] },
      },
      ['ROUTES route "bad": origin'],
    ],
    [
      "a misspelt setting",
      { ...sampleVars(), MAX_TOKEN_TTL_SECOND: "60" },
      ["MAX_TOKEN_TTL_SECOND is not a setting of the broker (misspelt?)"],
    ],
    [
      "the signing keys written into the file",
      { ...sampleVars(), BROKER_SIGNING_KEYS: '{"keys":[]}' },
      ["BROKER_SIGNING_KEYS is a secret: remove it from", "wrangler secret put BROKER_SIGNING_KEYS"],
    ],
    [
      "an EXPLAIN mode that does not exist and a bad clock skew",
      { ...sampleVars(), EXPLAIN: "on", CLOCK_SKEW_SECONDS: "600" },
      ['EXPLAIN is "on": use "self" or "off"', 'CLOCK_SKEW_SECONDS is "600"'],
    ],
    ["no policy at all", { ...sampleVars(), POLICY: undefined }, ["POLICY is not set"]],
  ];
  for (const [name, vars, messages] of broken) {
    it(`exits 1 on ${name}, naming each rule or setting and field`, () => {
      const run = check(vars);
      expect(run.code).toBe(1);
      for (const message of messages) expect(run.stderr).toContain(message);
      expect(run.stderr).toMatch(/\d+ errors?; the broker would refuse to start\n$/);
      expect(run.stdout).toBe("");
    });
  }

  it("exits 1 on a file that is not TOML, naming the place", () => {
    const dir = tempDir();
    const file = join(dir, "wrangler.toml");
    writeFileSync(file, 'name = "x"\n[vars\nPOLICY = 1\n');
    const run = policyTool(["check", "--config", file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: ${file}:2:6: Invalid TOML document: illegal character in key\n  [vars\n`);
  });

  it("reads TOML as wrangler does, environments included", () => {
    const dir = tempDir();
    const file = join(dir, "wrangler.toml");
    writeFileSync(
      file,
      [
        'name = "x"',
        "[vars]",
        'BROKER_ISSUER = "https://broker.example.com"',
        'ENTRA_TENANT_IDS = "5a3c9e2f-7b41-4d8e-9c6a-2f1e0d4b8a73"',
        'ENTRA_AUDIENCES = "api://identity-broker"',
        "[[vars.POLICY.rules]]",
        'name = "r"',
        'match = { clients = ["0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"] }',
        'grant = { origins = ["https://inventory.example.com"], scopes = ["inventory.read"], maxTtlSeconds = 300 }',
        "[env.staging.vars]",
        'BROKER_ISSUER = "https://broker.example.com/"',
        "",
      ].join("\n"),
    );
    expect(policyTool(["check", "--config", file]).stdout).toContain(": ok: 1 rule, 0 routes");
    const staging = policyTool(["check", "--config", file, "--env", "staging"]);
    expect(staging.code).toBe(1);
    expect(staging.stderr).toContain('error: BROKER_ISSUER is "https://broker.example.com/"');
    expect(staging.stderr).toContain("error: POLICY is not set");
  });

  it("checks the signing keys when the environment holds them", () => {
    const file = writeConfig(tempDir(), { vars: sampleVars() });
    const bad = policyTool(["check", "--config", file], { BROKER_SIGNING_KEYS: '{"keys":[{"kty":"oct","k":"AAAA"}]}' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: BROKER_SIGNING_KEYS keys[0]");
    const good = policyTool(["check", "--config", file], {
      BROKER_SIGNING_KEYS: JSON.stringify({ keys: [{ ...testSigningKey(), kid: "test" }] }),
    });
    expect(good.code).toBe(0);
    expect(good.stdout).not.toContain("not checked");
  });

  it("warns about rules that can never decide, duplicate grants and routes policy never lets through", () => {
    const inventory = SAMPLE_ORIGINS.inventory;
    const vars = withRules((rules) => [
      ...rules,
      { ...rules[0]!, name: "orders-again" },
      {
        name: "orders-narrower",
        match: { clients: [IDENTITIES.orders.appId], roles: ["Inventory.Read", "Extra.Role"] },
        grant: { origins: [inventory], scopes: ["inventory.read"], maxTtlSeconds: 30 },
      },
      {
        name: "foreign-tenant",
        match: { roles: ["Inventory.Read"], tenants: ["99999999-9999-4999-8999-999999999999"] },
        grant: { origins: [inventory], scopes: ["inventory.read"], maxTtlSeconds: 30 },
      },
    ]);
    vars.ROUTES = {
      routes: [
        ...(vars.ROUTES as { routes: unknown[] }).routes,
        {
          name: "payroll",
          match: { pathPrefix: "/payroll" },
          origin: "http://127.0.0.1:8899",
          scopes: { GET: ["payroll.read"] },
        },
        {
          name: "inventory-delete",
          match: { pathPrefix: "/items-admin" },
          origin: inventory,
          scopes: { DELETE: ["inventory.delete"] },
        },
      ],
    };
    const run = check(vars);
    expect(run.code).toBe(0);
    expect(run.stderr.trim().split("\n")).toEqual([
      'warning: rule "foreign-tenant" can never match: none of its match.tenants is in ENTRA_TENANT_IDS, so such tokens are refused before policy',
      `warning: rules "orders-reads-inventory" and "orders-again" are duplicate grants: same callers, same origin ${inventory}; "orders-again" never decides there`,
      `warning: rule "orders-narrower" can never match for ${inventory}: "orders-reads-inventory" comes first, matches every caller it matches and grants all its scopes`,
      'warning: route "payroll": no rule grants its origin http://127.0.0.1:8899, so every request is refused',
      `warning: route "inventory-delete": no rule grants ${inventory} the scopes DELETE needs (inventory.delete)`,
    ]);
    expect(run.stdout).toContain("5 warnings");
  });

  it("warns about roles no app is assigned and clients not registered in the tenant file", () => {
    const dir = tempDir();
    const vars = withRules((rules) => [
      ...rules,
      {
        name: "ghost",
        match: { clients: ["66666666-6666-4666-8666-666666666666"] },
        grant: { origins: [SAMPLE_ORIGINS.deploy], scopes: ["deploy.read"], maxTtlSeconds: 30 },
      },
    ]);
    const run = policyTool([
      "check",
      "--config",
      writeConfig(dir, { vars }),
      "--tenant-file",
      sampleTenantFile(dir, { roles: ["Inventory.Search"] }),
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      'warning: rule "agent-searches-inventory": role "Inventory.Search" is never assigned in',
    );
    expect(run.stderr).toContain(
      'warning: rule "ghost": client 66666666-6666-4666-8666-666666666666 is not an app registration in',
    );
  });

  it("reads a wrangler environment's own vars with --env, and says when it has none", () => {
    const dir = tempDir();
    const staging = withRules((rules) => rules.slice(0, 1));
    const file = writeConfig(dir, { vars: sampleVars(), env: { staging: { vars: staging }, bare: { name: "x" } } });
    expect(policyTool(["check", "--config", file, "--env", "staging"]).stdout).toContain("[env.staging]: ok: 1 rule,");
    const bare = policyTool(["check", "--config", file, "--env", "bare"]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("warning: [env.bare] has no vars of its own");
    expect(bare.stderr).toContain("POLICY is not set");
    const missing = policyTool(["check", "--config", file, "--env", "prod"]);
    expect(missing).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('No environment found in configuration with name "prod"'),
    });
  });

  it("refuses a policy whose rateLimits name a binding the file does not declare", () => {
    const dir = tempDir();
    const run = policyTool(["check", "--config", writeConfig(dir, { vars: sampleVars(), ratelimits: [] })]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'error: POLICY rateLimits names "RATE_LIMIT_AGENT", which is not a rate limit binding',
    );
  });

  it("npm run deploy runs tools/deploy.ts, which checks the config first (test/tools/deploy.test.ts)", () => {
    const scripts = (
      JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.deploy).toBe("node tools/deploy.ts");
  });

  it("is run by npm run deploy too: a misspelt setting deploys nothing", () => {
    const config = writeConfig(tempDir(), { vars: { ...sampleVars(), MAX_TOKEN_TTL: "60" } });
    const run = spawnSync(process.execPath, [join(REPO, "tools/deploy.ts"), "--config", config, "--dry-run"], {
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("MAX_TOKEN_TTL is not a setting of the broker");
    expect(run.stderr).toContain("deploy: nothing was deployed");
  });
});

describe("policy explain", () => {
  const file = () => writeConfig(tempDir(), { vars: sampleVars() });

  it("answers what POST /admin/explain answers, offline", () => {
    const config = file();
    const granted = policyTool([
      "explain",
      "--config",
      config,
      "--client",
      IDENTITIES.orders.appId,
      "--roles",
      "Inventory.Read",
      "--resource",
      SAMPLE_ORIGINS.inventory,
    ]);
    expect(granted.code).toBe(0);
    expect(JSON.parse(granted.stdout)).toEqual({
      decision: "granted",
      reason: "granted",
      rule: "orders-reads-inventory",
      scope: "inventory.read",
      expiresIn: 300,
      lifetimeCappedBy: "rule",
      candidates: [{ rule: "orders-reads-inventory", missing: { roles: [], scopes: [] } }],
      tenant: TENANT_ID,
    });
    const denied = policyTool([
      "explain",
      "--config",
      config,
      "--client",
      IDENTITIES.agent.appId,
      "--roles",
      "",
      "--resource",
      SAMPLE_ORIGINS.inventory,
      "--scope",
      "inventory.search inventory.read",
    ]);
    expect(JSON.parse(denied.stdout)).toEqual({
      decision: "denied",
      reason: "no_roles",
      candidates: [
        { rule: "agent-searches-inventory", missing: { roles: ["Inventory.Search"], scopes: ["inventory.read"] } },
      ],
      tenant: TENANT_ID,
    });
  });

  it("exits 1 naming the flag at fault, 2 when a flag is missing", () => {
    const config = file();
    const bad = policyTool(["explain", "--config", config, "--client", "orders", "--roles", "", "--resource", "x"]);
    expect(bad).toMatchObject({ code: 1, stderr: "--client must be the client's app id, a lower-case GUID\n" });
    const missing = policyTool(["explain", "--config", config, "--client", IDENTITIES.orders.appId]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("explain needs --client and --resource");
    const noRoles = policyTool(["explain", "--config", config, "--client", IDENTITIES.orders.appId, "--resource", "x"]);
    expect(noRoles.code).toBe(2);
    expect(noRoles.stderr).toContain("explain needs --roles (comma-separated, or '' for none), or a --tenant-file");
  });

  it("takes the client's roles from the tenant file when --roles is left out", () => {
    const dir = tempDir();
    const run = policyTool([
      "explain",
      "--config",
      writeConfig(dir, { vars: sampleVars() }),
      "--tenant-file",
      sampleTenantFile(dir),
      "--client",
      IDENTITIES.agent.appId,
      "--resource",
      SAMPLE_ORIGINS.inventory,
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      decision: "granted",
      rule: "agent-searches-inventory",
      scope: "inventory.search",
      expiresIn: 60,
    });
  });
});

describe("policy map", () => {
  function manyRules(count: number): Vars {
    const rules = Array.from({ length: count }, (_, i) => ({
      name: `rule-${String(i).padStart(3, "0")}`,
      match: i % 3 === 0 ? { roles: [`Role.${i % 17}`] } : { clients: [guid(i)], roles: [`Role.${i % 11}`] },
      grant: { origins: [`https://svc${i % 37}.example.com`], scopes: ["read"], maxTtlSeconds: 60 + i },
    }));
    return { ...sampleVars(), POLICY: { rules }, ROUTES: undefined };
  }

  for (const [name, vars] of [
    ["the sample (5-rule scale)", sampleVars()],
    ["200 rules", manyRules(200)],
  ] as const) {
    it(`draws well-formed SVG and HTML naming every rule and origin for ${name}`, () => {
      const config = writeConfig(tempDir(), { vars });
      const rules = (vars.POLICY as { rules: Array<{ name: string; grant: { origins: string[] } }> }).rules;
      const origins = new Set(rules.flatMap((rule) => rule.grant.origins));
      for (const format of ["svg", "html"]) {
        const run = policyTool(["map", "--config", config, "--format", format]);
        expect(run.code).toBe(0);
        const { root, texts } = xmlTexts(run.stdout);
        expect(root).toBe(format === "svg" ? "{http://www.w3.org/2000/svg}svg" : "{http://www.w3.org/1999/xhtml}html");
        const all = texts.join("\n");
        for (const rule of rules) expect(all).toContain(rule.name);
        for (const origin of origins) expect(all).toContain(origin);
        // Self-contained: nothing to fetch.
        expect(run.stdout).not.toMatch(/(?:href|src)=["'](?!#)|@import|url\(/);
      }
    });
  }

  it("marks forward-mode origins with their routes and puts scopes and lifetimes on the edges", () => {
    const run = policyTool(["map", "--config", writeConfig(tempDir(), { vars: sampleVars() })]);
    const all = xmlTexts(run.stdout).texts.join("\n");
    expect(all).toContain("forward: inventory-items, inventory-search");
    expect(all).toContain("forward: deploy");
    expect(all).toContain("inventory.read · 300 s");
    expect(all).toContain("deploy.write · 120 s");
  });

  it("writes mermaid with every rule and origin", () => {
    const run = policyTool(["map", "--config", writeConfig(tempDir(), { vars: sampleVars() }), "--format", "mermaid"]);
    expect(run.stdout.startsWith("flowchart LR\n")).toBe(true);
    for (const rule of samplePolicy(SAMPLE_ORIGINS).rules) expect(run.stdout).toContain(`["${rule.name}"]`);
    for (const origin of Object.values(SAMPLE_ORIGINS)) expect(run.stdout).toContain(origin);
  });

  it("names clients from the tenant file", () => {
    const dir = tempDir();
    const run = policyTool([
      "map",
      "--config",
      writeConfig(dir, { vars: sampleVars() }),
      "--tenant-file",
      sampleTenantFile(dir),
    ]);
    const texts = xmlTexts(run.stdout).texts;
    expect(texts).toContain("orders");
    expect(texts).toContain("agent");
  });

  it("keeps docs/policy-map.svg in step with the sample policy", () => {
    const fresh = spawnSync(process.execPath, [join(REPO, "tools/sample-policy-map.ts"), "--stdout"], {
      encoding: "utf8",
    });
    expect(fresh.status).toBe(0);
    expect(fresh.stdout).toBe(readFileSync(join(REPO, "docs/policy-map.svg"), "utf8"));
  });
});

describe("policy entra-roles", () => {
  it("derives the appRoles from the policy with stable UUIDv5 ids, the same on every run", () => {
    const config = writeConfig(tempDir(), { vars: sampleVars() });
    const first = policyTool(["entra-roles", "--config", config]);
    const second = policyTool(["entra-roles", "--config", config]);
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).toBe(first.stderr);
    const roles = JSON.parse(first.stdout) as Array<Record<string, unknown>>;
    expect(roles.map((r) => r.value)).toEqual([
      "Broker.Admin",
      "Deploy.Production",
      "Inventory.Read",
      "Inventory.Search",
    ]);
    for (const role of roles) {
      expect(role).toMatchObject({ allowedMemberTypes: ["Application"], isEnabled: true, displayName: role.value });
      expect(role.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    // The same ids as any RFC 9562 UUIDv5 implementation computes (here Python's uuid module).
    const python = spawnSync(
      "/usr/bin/python3",
      [
        "-c",
        "import uuid,sys; ns=uuid.uuid5(uuid.NAMESPACE_URL,'urn:identity-broker:app-role'); print(' '.join(str(uuid.uuid5(ns,v)) for v in sys.argv[1:]))",
        ...roles.map((r) => r.value as string),
      ],
      { encoding: "utf8" },
    );
    expect(python.stdout.trim().split(" ")).toEqual(roles.map((r) => r.id));
  });

  it("writes the manifest to --out and prints az commands assigning each role to each named client", () => {
    const dir = tempDir();
    const out = join(dir, "app-roles.json");
    const run = policyTool([
      "entra-roles",
      "--config",
      writeConfig(dir, { vars: sampleVars() }),
      "--out",
      out,
      "--tenant-file",
      sampleTenantFile(dir),
    ]);
    expect(run.code).toBe(0);
    const roles = JSON.parse(readFileSync(out, "utf8")) as Array<{ id: string; value: string }>;
    expect(run.stdout).toContain(`az ad app update --id "$BROKER_APP" --app-roles @${out}`);
    for (const identity of [IDENTITIES.orders, IDENTITIES.ci, IDENTITIES.agent]) {
      expect(run.stdout).toContain(`# ${identity.name} (${identity.appId})`);
      expect(run.stdout).toContain(`az ad sp show --id ${identity.appId}`);
      const id = roles.find((r) => r.value === identity.roles[0])!.id;
      expect(run.stdout).toContain(`\\"appRoleId\\":\\"${id}\\"}"  # ${identity.roles[0]}`);
    }
    expect(run.stdout).not.toContain(IDENTITIES.intruder.appId);
  });
});

function testSigningKey(): Record<string, unknown> {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
}

function guid(i: number): string {
  const hex = i.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${hex}`;
}
