// `npm run pack`: builds each installable package to JavaScript with type declarations and packs it
// into dist/ as <scope>-<name>-<version>.tgz. Node does not strip types inside node_modules, so what
// we ship is built JavaScript, never .ts sources.
//
// A package is a top-level folder with its own package.json (the publish manifest) and a
// tsconfig.build.json that emits into that folder's build/ directory.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "..");
const PACKAGES = ["signer", "origin"];
const DIST = join(REPO, "dist");
const TSC = join(REPO, "node_modules/typescript/bin/tsc");

mkdirSync(DIST, { recursive: true });
const built: string[] = [];
for (const name of PACKAGES) {
  const dir = join(REPO, name);
  if (!existsSync(join(dir, "package.json"))) continue;
  rmSync(join(dir, "build"), { recursive: true, force: true });
  execFileSync(process.execPath, [TSC, "-p", join(dir, "tsconfig.build.json")], { stdio: "inherit" });
  const out = execFileSync("npm", ["pack", dir, "--pack-destination", DIST, "--silent"], { encoding: "utf8" });
  built.push(join("dist", out.trim().split("\n").pop() ?? ""));
}
for (const file of built) process.stdout.write(`${file}\n`);
