import { beforeAll, describe, expect, it } from "vitest";
import { BrokerTokenError, verifyBrokerToken } from "../../origin/src/index.ts";
import { ADVERSARIAL_CASES } from "./support/adversarial-table.ts";
import { kitOptions, refusal, testClock } from "./support/kit-options.ts";
import { type StandInBroker, standInBroker } from "./support/stand-in-broker.ts";

// The same table runs inside workerd in test/worker/origin-kit.test.ts.
describe("verifyBrokerToken refuses (Node)", () => {
  let broker: StandInBroker;
  beforeAll(async () => {
    broker = await standInBroker();
  });

  for (const row of ADVERSARIAL_CASES) {
    it(`${row.name}: ${row.status} ${row.code}`, async () => {
      const clock = testClock();
      const token = await row.make(broker, clock.seconds());
      const error = await refusal(verifyBrokerToken(token, kitOptions(broker, clock)));
      expect(error).toBeInstanceOf(BrokerTokenError);
      expect(error).toMatchObject({ code: row.code, status: row.status });
      const challenge = error.wwwAuthenticate as string;
      expect(challenge).toMatch(
        row.status === 403 ? /^Bearer error="insufficient_scope"/ : /^Bearer error="invalid_token"/,
      );
      expect(challenge).toContain(
        'resource_metadata="https://inventory.example.com/.well-known/oauth-protected-resource"',
      );
      // Nothing from the token reaches the header.
      expect(challenge).not.toContain(token.slice(0, 20));
    });
  }
});
