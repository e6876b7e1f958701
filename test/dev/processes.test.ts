import { describe, expect, it } from "vitest";
import { groupAlive, killAllNow, startChild } from "../../dev/processes.ts";

// The supervision under `npm start`: each child in its own process group, and nothing of a group
// outlives its child or the supervisor.

const cwd = process.cwd();

async function gone(child: { process: import("node:child_process").ChildProcess }): Promise<boolean> {
  const deadline = Date.now() + 3_000;
  while (groupAlive(child.process) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !groupAlive(child.process);
}

describe("dev/processes", () => {
  it("a child that exits on its own takes what it started with it (as workerd goes with wrangler)", async () => {
    // The shell leaves a background process behind in its group and exits.
    const child = startChild("leaver", "sh", ["-c", "sleep 60 & echo started; exit 0"], { cwd });
    expect(await child.exited).toBe(0);
    expect(child.output).toContain("started");
    expect(await gone(child)).toBe(true);
  });

  it("stop() ends the child and everything in its group", async () => {
    const child = startChild("parent", "sh", ["-c", "sleep 60 & sleep 60"], { cwd });
    await new Promise((r) => setTimeout(r, 200));
    expect(groupAlive(child.process)).toBe(true);
    await child.stop();
    expect(groupAlive(child.process)).toBe(false);
  });

  it("killAllNow() kills every running child's group at once, synchronously", async () => {
    const children = [1, 2].map((n) => startChild(`c${n}`, "sh", ["-c", "sleep 60 & sleep 60"], { cwd }));
    await new Promise((r) => setTimeout(r, 200));
    killAllNow();
    for (const child of children) {
      expect(await child.exited).toBe(null); // killed by a signal
      expect(await gone(child)).toBe(true);
    }
  });
});
