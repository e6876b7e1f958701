// `npm start`: the whole system locally, with no Azure tenant and no Cloudflare account.
// Generated state lives in .dev/ (git-ignored) and is reused on the next run.
import { resolve } from "node:path";
import { acquireStartLock, stopLeftovers, type StartLock } from "./lock.ts";
import { busyPorts, describeBusy } from "./ports.ts";
import { killAllNow, observeSpawns } from "./processes.ts";
import { IDENTITIES, ORIGIN_ROUTES } from "./sample.ts";
import { startStack, type Stack } from "./stack.ts";
import { PORT_SETTINGS, parseStartOptions, USAGE, type StartOptions } from "./start-options.ts";
import { printedWalkthrough } from "./walkthrough.ts";

const REPO = resolve(import.meta.dirname, "..");
/** Docs besides README.md whose walk-through commands are printed once the stack is up. */
const WALKTHROUGH_DOCS = ["docs/forward-mode.md"];
/** How long a leftover of an earlier run gets to exit on SIGTERM before it is killed. */
const LEFTOVER_GRACE_MS = 5_000;

let options: StartOptions;
try {
  options = parseStartOptions(process.argv.slice(2), process.env, REPO);
} catch (e) {
  console.error(`npm start: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

// Signals are handled before the first child exists: a Ctrl-C during the ~20 s start-up must stop
// what has started so far, not leave wrangler, workerd and the signers holding the ports.
const abort = new AbortController();
let stack: Stack | undefined;
let lock: StartLock | undefined;
let starting: Promise<unknown> | undefined;
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    console.error(`\n${signal} again: killing every process of the stack now.`);
    process.exit(130); // the exit handler below kills every child's process group
  }
  console.log(`\n${signal}: stopping…`);
  abort.abort();
  // Before the stack is up, the abort makes startStack stop what it started, then reject.
  void (stack ? stack.stop() : (starting ?? Promise.resolve())).catch(() => {}).finally(() => process.exit(0));
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
// Whatever way this process ends (an error, process.exit), no child outlives it.
process.on("exit", () => {
  killAllNow();
  lock?.release();
});

const brokerOrigin = `http://127.0.0.1:${options.ports.broker}`;
const locked = acquireStartLock(options.stateDir, { broker: brokerOrigin });
if (!locked.ok) {
  const { pid, startedAt, broker } = locked.owner;
  console.error(
    `npm start is already running for ${rel(options.stateDir)}/ (pid ${pid}, since ${startedAt}${broker ? `, broker ${broker}` : ""}).\n` +
      `Use that one, or stop it first (Ctrl-C in its terminal, or kill ${pid}).`,
  );
  process.exit(1);
}
lock = locked.lock;
observeSpawns((pid, name) => locked.lock.recordChild(pid, name));

// An earlier npm start killed outright (SIGKILL, a closed terminal) could not stop its children;
// they would hold the ports, and a broker left over from it would answer in place of the new one.
const earlier = locked.previous?.pid;
const mine = locked.leftovers.filter((l) => l.ours);
const unsure = locked.leftovers.filter((l) => !l.ours);
if (mine.length > 0) {
  console.log(
    `An earlier npm start (pid ${earlier}) ended without stopping its processes; stopping ${mine.map((l) => `${l.name} (pid ${l.pid})`).join(", ")}…`,
  );
  await stopLeftovers(mine, LEFTOVER_GRACE_MS);
}
if (unsure.length > 0)
  console.error(
    `Process groups an earlier npm start (pid ${earlier}) started still run: ${unsure.map((l) => `${l.name} (pid ${l.pid})`).join(", ")}. ` +
      `If they are leftovers, stop them with: kill -- ${unsure.map((l) => `-${l.pid}`).join(" ")}`,
  );

const busy = await busyPorts(PORT_SETTINGS.map((p) => ({ port: options.ports[p.key], role: p.role })));
if (busy.length > 0) {
  const flags = busy.map((b) => PORT_SETTINGS.find((p) => p.role === b.role)!);
  console.error(
    `npm start: cannot start: ${describeBusy(busy)}.\n` +
      `Stop what holds it, or choose another port: ${flags.map((p) => `--${p.flag} N (or ${p.env}=N)`).join(", ")}.`,
  );
  process.exit(1);
}

console.log(
  `Starting the identity broker stack (a first run generates keys and certificates in ${rel(options.stateDir)}/)…`,
);
starting = startStack({
  stateDir: options.stateDir,
  ports: options.ports,
  signal: abort.signal,
  log: (line) => {
    // Audit lines and origin decisions are the story; wrangler's own chatter only with --verbose.
    if (
      options.verbose ||
      (line.startsWith("[broker] ") && line.includes('"outcome":')) || // an audit line: one per decision
      line.startsWith("[inventory]") ||
      line.startsWith("[deploy]")
    )
      console.log(line);
  },
});
stack = await (starting as Promise<Stack>).catch((e: unknown) => {
  if (abort.signal.aborted) return new Promise<never>(() => {}); // the signal handler exits
  console.error(`Could not start the stack: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

const { inventory, deploy } = stack.origins;
const needs = (routes: Record<string, string>) =>
  Object.entries(routes)
    .map(([route, scope]) => `${route} needs ${scope}`)
    .join(", ");
console.log(`
Running:
  Entra ID emulator  ${stack.emulator.httpsOrigin}   (CA: ${rel(stack.emulator.caCertPath)})
  broker (workerd)   ${stack.broker.origin}   (metadata: ${stack.broker.origin}/.well-known/oauth-authorization-server)
  inventory origin   ${inventory.origin}   (${needs(ORIGIN_ROUTES.inventory)})
  deploy origin      ${deploy.origin}   (${needs(ORIGIN_ROUTES.deploy)})
  signers            ${Object.values(IDENTITIES)
    .map((i) => `${i.name}: ${i.description}`)
    .join("\n                     ")}

Try the walk-through (README.md) in another terminal, from ${process.cwd()}:

${printedWalkthrough(REPO, WALKTHROUGH_DOCS, options.ports, options.stateDir)}

Broker audit lines and origin decisions follow. Ctrl-C stops everything.
`);

function rel(p: string): string {
  return p.startsWith(`${process.cwd()}/`) ? p.slice(process.cwd().length + 1) : p;
}
