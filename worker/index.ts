import { Hono } from "hono";
const app = new Hono<{ Bindings: { PROBE: string } }>();
app.get("/", (c) => c.text("ok " + c.env.PROBE));
app.get("/f", async (c) => { const r = await fetch(c.req.query("u")!); return c.text(await r.text()); });
export default app;
