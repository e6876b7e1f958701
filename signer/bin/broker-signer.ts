#!/usr/bin/env node
// The `broker-signer` command (npm bin): in this repository through Node's type stripping, in the
// installed package as built JavaScript (Node 20 or later).
import { main } from "../cli.ts";

const stopSignal = new Promise<void>((resolve) => {
  process.once("SIGINT", () => resolve());
  process.once("SIGTERM", () => resolve());
});

const code = await main(
  process.argv.slice(2),
  {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    stopSignal,
  },
  process.argv,
);
process.exitCode = code;
// Keep-alive agents and signal listeners would otherwise hold the process open after a one-shot command.
process.exit(code);
