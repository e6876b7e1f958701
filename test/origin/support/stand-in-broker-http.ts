import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type StandInBroker, standInBroker } from "./stand-in-broker.ts";

// The stand-in broker's two documents over real HTTP on loopback, for verifiers that fetch for
// themselves (a packed kit in another process, PyJWT).
export async function standInBrokerOverHttp(): Promise<{ broker: StandInBroker; close(): Promise<void> }> {
  let broker: StandInBroker | undefined;
  const server: Server = createServer((req, res) => {
    if (!broker) return void res.writeHead(503).end();
    void broker.fetch(`${broker.issuer}${req.url ?? "/"}`, { redirect: "manual" }).then(async (response) => {
      res.writeHead(response.status, Object.fromEntries(response.headers)).end(await response.text());
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  broker = await standInBroker(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    broker,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
