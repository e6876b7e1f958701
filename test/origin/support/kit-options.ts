import type { BrokerTokenOptions } from "../../../origin/src/index.ts";
import { AUDIENCE, type StandInBroker } from "./stand-in-broker.ts";

// Options for the kit against a stand-in broker, with a clock the test moves. Each stand-in has
// its own fetch function, so each test starts with empty key and token caches.

export interface TestClock {
  (): number;
  /** Seconds since the epoch, as token claims count. */
  seconds(): number;
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let now = start;
  return Object.assign(() => now, {
    seconds: () => Math.floor(now / 1000),
    advance: (ms: number) => {
      now += ms;
    },
  });
}

export function kitOptions(
  broker: StandInBroker,
  clock: TestClock,
  overrides: Partial<BrokerTokenOptions> = {},
): BrokerTokenOptions {
  return {
    issuer: broker.issuer,
    audience: AUDIENCE,
    scopes: ["inventory.read"],
    fetch: broker.fetch,
    clock,
    ...overrides,
  };
}

/** The BrokerTokenError a promise rejects with (fails the test if it resolves). */
export async function refusal(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const outcome = await promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a refusal, got ${JSON.stringify(outcome.resolved)}`);
  return outcome.error as Record<string, unknown>;
}
