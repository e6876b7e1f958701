/**
 * `broker-signer`: the command line. Output for programs goes to stdout (a token alone on a line, or
 * JSON with --json); logs and errors go to stderr. Exit codes are stable (see EXIT).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig, type ConfigOverrides, type SignerConfig } from "./config.ts";
import { validateScope } from "./config-values.ts";
import { resolve } from "node:path";
import { defaultSocketPath } from "./client.ts";
import { assertNoKeyMaterialInProcess } from "./credential.ts";
import { readSubjectTokenFile } from "./delegation.ts";
import { SignerError, type SignerErrorCode } from "./errors.ts";
import { createLogger, type LogLevel } from "./log.ts";
import { createHttpClient, readCaFile } from "./network.ts";
import { resourceForOrigin } from "./origin-metadata.ts";
import { createSignerService } from "./service.ts";
import { ADMIN_HELP, ADMIN_OPTIONS, runAdmin } from "./admin.ts";
import { startSocketServer } from "./socket-server.ts";

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2, // wrong arguments or configuration: fix the command or the config
  credential: 3, // key/certificate/federated token unusable or unsafe
  token: 4, // Entra ID refused or failed to issue a token
  exchange: 5, // the broker refused the exchange
  unreachable: 6, // Entra ID, the broker or the daemon could not be reached
} as const;

const EXIT_FOR: Record<SignerErrorCode, number> = {
  ERR_USAGE: EXIT.usage,
  ERR_CONFIG: EXIT.usage,
  ERR_REQUEST: EXIT.usage,
  ERR_KEY_UNSAFE: EXIT.credential,
  ERR_CREDENTIAL: EXIT.credential,
  ERR_TOKEN: EXIT.token,
  ERR_EXCHANGE: EXIT.exchange,
  ERR_NETWORK: EXIT.unreachable,
  ERR_TIMEOUT: EXIT.unreachable,
  ERR_SOCKET: EXIT.unreachable,
};

/** A one-shot command serves the process that ran it. */
const CLI_CALLER = { via: "cli", peerPid: process.ppid, peerUid: process.getuid?.() } as const;

export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves when `serve` should stop (signals, in the real process). */
  stopSignal?: Promise<void>;
};

const CONFIG_OPTIONS = {
  config: { type: "string" },
  tenant: { type: "string" },
  "client-id": { type: "string" },
  "authority-host": { type: "string" },
  "ca-file": { type: "string" },
  "broker-url": { type: "string" },
  "broker-scope": { type: "string" },
  "log-level": { type: "string" },
  dpop: { type: "boolean" },
  "dpop-key-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

const CONFIG_HELP = `Configuration (flags override BROKER_SIGNER_* variables, which override the config file):
  --config FILE           JSON config file                        BROKER_SIGNER_CONFIG
  --tenant ID             tenant id (GUID) or domain              BROKER_SIGNER_TENANT_ID
  --client-id ID          application (client) id                 BROKER_SIGNER_CLIENT_ID
  --authority-host URL    default https://login.microsoftonline.com  BROKER_SIGNER_AUTHORITY_HOST
  --ca-file FILE          extra CA certificates (PEM)             BROKER_SIGNER_CA_FILE
  --broker-url URL        the broker (for exchange)               BROKER_SIGNER_BROKER_URL
  --broker-scope SCOPE    the broker's Entra scope (for exchange) BROKER_SIGNER_BROKER_SCOPE
  --log-level LEVEL       debug | info | warn | error
  --dpop                  bind exchanged tokens to a DPoP key (RFC 9449) BROKER_SIGNER_DPOP=true
  --dpop-key-file FILE    the CLI's DPoP key (0600, made on first use) BROKER_SIGNER_DPOP_KEY_FILE
Credential (files only; never the key itself in a flag or variable):
  BROKER_SIGNER_KEY_FILE + BROKER_SIGNER_CERT_FILE (PEM, key mode 0600)
  BROKER_SIGNER_NEXT_KEY_FILE + BROKER_SIGNER_NEXT_CERT_FILE (second certificate, for rotation)
  BROKER_SIGNER_PFX_FILE [+ BROKER_SIGNER_PFX_PASSPHRASE_FILE]
  BROKER_SIGNER_FEDERATED_TOKEN_FILE (workload identity federation; AZURE_FEDERATED_TOKEN_FILE also read)
Exit codes: 0 ok, 2 usage/config, 3 credential, 4 Entra ID refused, 5 broker refused, 6 unreachable or no
answer within 10 s, 1 internal.`;

const HELP: Record<string, string> = {
  admin: `${ADMIN_HELP}\n\n${CONFIG_HELP}`,
  main: `Usage: broker-signer <command> [options]

Holds a certificate's private key and gets Entra ID app-only tokens with it, for services, CI jobs and agents.

Commands:
  cert create   create a key (mode 0600) and a self-signed certificate to upload to the app registration
  cert show     show the configured certificates' thumbprints and which one signs
  token         print an Entra ID access token for a scope     TOKEN=$(broker-signer token --scope api://broker/.default)
  exchange      get a broker token for one downstream origin   broker-signer exchange --resource https://api.example.com
  dpop          print a DPoP proof for one request with a bound token
  serve         run as a daemon on a unix socket for local processes
  admin         revoke and unrevoke identities at the broker   broker-signer admin revoke --client ID --reason "…"

Run \`broker-signer <command> --help\` for a command's options.`,
  "cert create": `Usage: broker-signer cert create [--key-file FILE] [--cert-file FILE] [--subject DN] [--days N] [--key-size BITS] [--json]

Creates a new RSA key (written mode 0600, never over an existing file) and a self-signed certificate.
Prints the SHA-256 and SHA-1 thumbprints and the certificate (PEM) to upload in the app registration
(Certificates & secrets > Certificates > Upload certificate).

  --key-file FILE    default ./broker-signer-key.pem
  --cert-file FILE   default ./broker-signer-cert.pem
  --subject DN       default CN=broker-signer
  --days N           validity, default 180 (at most 730)
  --key-size BITS    2048 | 3072 | 4096, default 2048
  --json             print {thumbprintSha256, thumbprintSha1, notBefore, notAfter, certificatePem}`,
  "cert show": `Usage: broker-signer cert show [config options] [--json]

Loads the configured certificates (checking the key files) and prints their thumbprints; during
rotation both are listed and the one that signs is marked.

${CONFIG_HELP}`,
  token: `Usage: broker-signer token [--scope SCOPE] [--json] [config options]

Prints an Entra ID access token for SCOPE (default: the broker scope from the configuration) on stdout.
  --scope SCOPE   e.g. api://broker/.default (client credentials always use /.default)
  --json          print {access_token, token_type, expires_on, scope}

${CONFIG_HELP}`,
  exchange: `Usage: broker-signer exchange (--resource ORIGIN | --for-origin URL) [--scope SCOPES] [--subject-token-file F] [--json] [config options]

Gets an Entra ID token for the broker scope and exchanges it at the broker (RFC 8693) for a token
for one downstream origin. Prints the downstream access token (or the whole response with --json).
  --resource ORIGIN          the downstream origin, exactly, e.g. https://api.example.com
  --for-origin URL           read the origin's /.well-known/oauth-protected-resource (RFC 9728) and exchange
                             for the resource it names, if it names this signer's broker
  --scope SCOPES             space-separated scopes to narrow the grant (optional)
  --subject-token-file F     delegation: the broker token your caller sent you; this identity acts on the
                             caller's behalf (RFC 8693 actor_token), with at most that token's scopes and life
  --json                     print {access_token, issued_token_type, token_type, expires_in, scope}
With --dpop the token is bound to this identity's DPoP key (token_type DPoP): use it with
\`broker-signer dpop\` proofs.

${CONFIG_HELP}`,
  dpop: `Usage: broker-signer dpop --method METHOD --url URL --token-file F [config options]

Prints a DPoP proof (RFC 9449) made with this identity's DPoP key for one request with the bound token in F:
  curl -H "Authorization: DPoP $(cat F)" -H "DPoP: $(broker-signer dpop --method GET --url "$URL" --token-file F)" "$URL"
  --method METHOD   the request's HTTP method
  --url URL         the request's URL (query and fragment are left out of the proof)
  --token-file F    the DPoP-bound access token from \`broker-signer exchange --dpop\`

${CONFIG_HELP}`,
  serve: `Usage: broker-signer serve [--socket PATH] [config options]

Runs until SIGINT/SIGTERM, answering on a unix socket (file mode 0600 in a directory of mode 0700):
  GET  /token?scope=SCOPE              -> {access_token, token_type, expires_in, expires_on, scope}
  POST /exchange {"resource","scope","subject_token"?}
                                       -> {access_token, issued_token_type, token_type, expires_in, scope}
  POST /dpop {"method","url","access_token"?}  -> {proof, jkt}  (with "dpop": true)
  GET  /health                         -> {status, credential: thumbprints}
  --socket PATH   default $BROKER_SIGNER_SOCKET, "socketPath" in the config, else
                  $XDG_RUNTIME_DIR/broker-signer/signer.sock or $TMPDIR/broker-signer-<uid>/signer.sock

${CONFIG_HELP}`,
};

function parse<O extends ParseArgsConfig["options"]>(args: string[], options: O, command: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new SignerError(
      "ERR_USAGE",
      `${e instanceof Error ? e.message.split("\n")[0] : "bad arguments"}; see \`broker-signer ${command} --help\``,
    );
  }
}

function configFrom(values: Record<string, unknown>, io: CliIo): SignerConfig {
  const s = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const overrides: ConfigOverrides = {
    configFile: s("config"),
    tenantId: s("tenant"),
    clientId: s("client-id"),
    authorityHost: s("authority-host"),
    caFile: s("ca-file"),
    brokerUrl: s("broker-url"),
    brokerScope: s("broker-scope"),
    socketPath: s("socket"),
    dpop: values.dpop === true ? true : undefined,
    dpopKeyFile: s("dpop-key-file"),
  };
  return loadConfig(overrides, io.env, io.cwd);
}

/** `--for-origin`: the origin's RFC 9728 metadata names the resource, and must name our broker. */
function resourceFromMetadata(originUrl: string, config: SignerConfig): Promise<string> {
  if (config.brokerUrl === undefined) {
    throw new SignerError(
      "ERR_CONFIG",
      'brokerUrl: not set; set BROKER_SIGNER_BROKER_URL or "brokerUrl" in the config file',
    );
  }
  return resourceForOrigin(createHttpClient(readCaFile(config.caFile)), originUrl, config.brokerUrl);
}

function logLevel(values: Record<string, unknown>, fallback: LogLevel): LogLevel {
  const v = values["log-level"];
  if (v === undefined) return fallback;
  if (v === "debug" || v === "info" || v === "warn" || v === "error") return v;
  throw new SignerError("ERR_USAGE", `--log-level must be debug, info, warn or error`);
}

async function run(argv: string[], io: CliIo, processArgv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    io.stdout(HELP.main + "\n");
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = first === "cert" ? `cert ${second ?? ""}`.trim() : first;
  const rest = argv.slice(first === "cert" ? 2 : 1);
  if (rest.includes("--help") || rest.includes("-h")) {
    const help = HELP[command];
    if (help === undefined)
      throw new SignerError("ERR_USAGE", `unknown command "${command}"; see \`broker-signer --help\``);
    io.stdout(help + "\n");
    return EXIT.ok;
  }
  // Refuse before anything is loaded: a key in argv or env has leaked already, and must be moved to a file.
  assertNoKeyMaterialInProcess(processArgv, io.env);

  switch (command) {
    case "cert create": {
      const { values } = parse(
        rest,
        {
          "key-file": { type: "string" },
          "cert-file": { type: "string" },
          subject: { type: "string" },
          days: { type: "string" },
          "key-size": { type: "string" },
          json: { type: "boolean" },
        },
        command,
      );
      // Loaded only here: the X.509 builder is the heaviest import, and token/exchange in CI start often.
      const { createCertificate } = await import("./cert-create.ts");
      const created = await createCertificate({
        keyFile: resolve(io.cwd, values["key-file"] ?? "broker-signer-key.pem"),
        certFile: resolve(io.cwd, values["cert-file"] ?? "broker-signer-cert.pem"),
        subject: values.subject ?? "CN=broker-signer",
        ...(values.days !== undefined ? { validityDays: Number(values.days) } : {}),
        ...(values["key-size"] !== undefined ? { keySize: Number(values["key-size"]) } : {}),
      });
      if (values.json) {
        io.stdout(
          JSON.stringify({
            ...created,
            notBefore: created.notBefore.toISOString(),
            notAfter: created.notAfter.toISOString(),
          }) + "\n",
        );
      } else {
        io.stdout(
          `Thumbprint (SHA-256): ${created.thumbprintSha256}\nThumbprint (SHA-1):   ${created.thumbprintSha1}\nValid: ${created.notBefore.toISOString()} to ${created.notAfter.toISOString()}\n` +
            `Key written to ${resolve(io.cwd, values["key-file"] ?? "broker-signer-key.pem")} (mode 0600). Upload this certificate to the app registration (Certificates & secrets > Certificates):\n${created.certificatePem}`,
        );
      }
      return EXIT.ok;
    }
    case "cert show": {
      const { values } = parse(rest, { ...CONFIG_OPTIONS, json: { type: "boolean" } }, command);
      const config = configFrom(values, io);
      if (config.credential.kind !== "certificate")
        throw new SignerError("ERR_USAGE", "the configured credential is a federated token file, not a certificate");
      const service = createSignerService(config, { log: createLogger(io.stderr, logLevel(values, "warn"), false) });
      const d = service.describe();
      if (values.json) io.stdout(JSON.stringify(d) + "\n");
      else if (d.kind === "certificate") {
        for (const c of d.certificates) {
          io.stdout(
            `${c.thumbprintSha256 === d.signingThumbprintSha256 ? "* signing " : "          "}SHA-256 ${c.thumbprintSha256}  SHA-1 ${c.thumbprintSha1}  valid ${c.notBefore} to ${c.notAfter}\n`,
          );
        }
      }
      return EXIT.ok;
    }
    case "token": {
      const { values } = parse(
        rest,
        { ...CONFIG_OPTIONS, scope: { type: "string" }, json: { type: "boolean" } },
        command,
      );
      const config = configFrom(values, io);
      const scope = values.scope ?? config.brokerScope;
      if (scope === undefined)
        throw new SignerError("ERR_USAGE", "no scope: pass --scope api://<app>/.default (or configure brokerScope)");
      validateScope(scope, "--scope", "ERR_USAGE");
      const service = createSignerService(config, { log: createLogger(io.stderr, logLevel(values, "warn"), false) });
      const t = await service.getToken(scope, CLI_CALLER);
      io.stdout(
        values.json
          ? JSON.stringify({
              access_token: t.accessToken,
              token_type: "Bearer",
              expires_on: Math.floor(t.expiresOn.getTime() / 1000),
              scope: t.scope,
            }) + "\n"
          : t.accessToken + "\n",
      );
      return EXIT.ok;
    }
    case "exchange": {
      const { values } = parse(
        rest,
        {
          ...CONFIG_OPTIONS,
          resource: { type: "string" },
          "for-origin": { type: "string" },
          scope: { type: "string" },
          "subject-token-file": { type: "string" },
          json: { type: "boolean" },
        },
        command,
      );
      const forOrigin = values["for-origin"];
      if ((values.resource === undefined) === (forOrigin === undefined))
        throw new SignerError(
          "ERR_USAGE",
          "give one of --resource ORIGIN (e.g. https://api.example.com) or --for-origin URL (read from the origin's RFC 9728 metadata)",
        );
      const config = configFrom(values, io);
      const subjectFile = values["subject-token-file"];
      const subjectToken = subjectFile === undefined ? undefined : readSubjectTokenFile(resolve(io.cwd, subjectFile));
      const service = createSignerService(config, {
        log: createLogger(io.stderr, logLevel(values, "warn"), false),
        dpopKeyIn: "file",
      });
      const resource = forOrigin === undefined ? values.resource! : await resourceFromMetadata(forOrigin, config);
      const out = await service.exchange(resource, values.scope, CLI_CALLER, { subjectToken });
      io.stdout(values.json ? JSON.stringify(out) + "\n" : out.access_token + "\n");
      return EXIT.ok;
    }
    case "dpop": {
      const { values } = parse(
        rest,
        { ...CONFIG_OPTIONS, method: { type: "string" }, url: { type: "string" }, "token-file": { type: "string" } },
        command,
      );
      if (values.method === undefined || values.url === undefined || values["token-file"] === undefined)
        throw new SignerError(
          "ERR_USAGE",
          "--method, --url and --token-file are required; see `broker-signer dpop --help`",
        );
      const config = configFrom({ ...values, dpop: true }, io);
      const token = readSubjectTokenFile(resolve(io.cwd, values["token-file"]), "--token-file");
      const service = createSignerService(config, {
        log: createLogger(io.stderr, logLevel(values, "warn"), false),
        dpopKeyIn: "file",
      });
      io.stdout(`${(await service.dpopProof(values.method, values.url, token)).proof}\n`);
      return EXIT.ok;
    }
    case "admin": {
      const [sub, ...args] = rest;
      let parsed: { values: Record<string, unknown>; positionals: string[] };
      try {
        parsed = parseArgs({
          args,
          options: { ...CONFIG_OPTIONS, ...ADMIN_OPTIONS },
          strict: true,
          allowPositionals: true,
        });
      } catch (e) {
        throw new SignerError(
          "ERR_USAGE",
          `${e instanceof Error ? e.message.split("\n")[0] : "bad arguments"}; see \`broker-signer admin --help\``,
        );
      }
      const config = configFrom(parsed.values, io);
      const service = createSignerService(config, { log: createLogger(io.stderr, logLevel(parsed.values, "warn")) });
      await runAdmin(sub, parsed.values, parsed.positionals, {
        config,
        http: createHttpClient(readCaFile(config.caFile)),
        getToken: async (scope) => (await service.getToken(scope)).accessToken,
        stdout: io.stdout,
      });
      return EXIT.ok;
    }
    case "serve": {
      const { values } = parse(rest, { ...CONFIG_OPTIONS, socket: { type: "string" } }, command);
      const config = configFrom(values, io);
      const log = createLogger(io.stderr, logLevel(values, "info"));
      const service = createSignerService(config, { log });
      const server = await startSocketServer({
        socketPath: config.socketPath ?? defaultSocketPath(io.env),
        service,
        log,
      });
      await (io.stopSignal ?? new Promise<void>(() => {}));
      await server.close();
      log.info("socket.closed", { socketPath: server.socketPath });
      return EXIT.ok;
    }
    default:
      throw new SignerError(
        "ERR_USAGE",
        `unknown command "${command}"; commands: cert create, cert show, token, exchange, dpop, serve, admin (see \`broker-signer --help\`)`,
      );
  }
}

/** Runs one CLI invocation; never throws. `processArgv` is the whole argv, checked for leaked keys. */
export async function main(argv: string[], io: CliIo, processArgv: string[] = argv): Promise<number> {
  try {
    return await run(argv, io, processArgv);
  } catch (e) {
    if (e instanceof SignerError) {
      io.stderr(`broker-signer: ${e.message}\n`);
      return EXIT_FOR[e.code];
    }
    // A bug: say so without details that could carry secrets (stack traces stay out of CI logs).
    io.stderr(`broker-signer: internal error (${e instanceof Error ? e.name : "unknown"}); please report it\n`);
    return EXIT.internal;
  }
}
