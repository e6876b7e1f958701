// Tells the Workers types what the main module exports, so `exports.default` (ctx.exports and
// cloudflare:workers) is typed. What `wrangler types` would generate for this one fact.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
  }
}
