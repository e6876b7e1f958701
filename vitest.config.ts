import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { brokerTestKeys } from "./test/worker/support/node/broker-test-keys.ts";

const keys = brokerTestKeys();

// Two kinds of tests, two runtimes: Worker code is tested inside workerd (the real Workers
// runtime), everything that is Node by nature (signer, emulator, end-to-end stack) runs in Node.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./test/worker/wrangler.test.toml" },
            miniflare: { bindings: { BROKER_SIGNING_KEYS: keys.brokerSigningKeys } },
          }),
        ],
        test: {
          name: "worker",
          provide: keys,
          include: ["test/worker/**/*.test.ts", "test/adversarial/worker/**/*.test.ts"],
          globalSetup: [
            "test/worker/global-setup.ts",
            "test/worker/emulator-setup.ts",
            "test/adversarial/support/node/hostile-setup.ts",
          ],
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: [
            "test/emulator/**/*.test.ts",
            "test/signer/**/*.test.ts",
            "test/origin/**/*.test.ts",
            "test/e2e/**/*.test.ts",
            "test/dev/**/*.test.ts",
            "test/tools/**/*.test.ts",
            "test/adversarial/signer/**/*.test.ts",
            "test/tools/**/*.test.ts",
            "bench/**/*.test.ts",
            "test/tools/**/*.test.ts",
          ],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
