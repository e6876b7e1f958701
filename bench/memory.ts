// Heap of a Worker's isolate, read through its DevTools inspector (workerd has no in-isolate
// memory API): a full GC first, so the figure is what is retained, not garbage awaiting collection.

export interface HeapReader {
  /** Bytes of JS heap in use after a full garbage collection (~1 s: it takes a heap snapshot). */
  usedAfterGc(): Promise<number>;
  close(): void;
}

/** Miniflare's inspector proxy accepts only loopback/devtools origins; Node's WebSocket sends none by default. */
const LOOPBACK_ORIGIN = { origin: "http://127.0.0.1" };

export async function connectHeapReader(inspectorUrl: string): Promise<HeapReader> {
  // wrangler's inspector proxy: a WebSocket on its root URL speaks CDP to the Worker's isolate.
  const ws = new WebSocket(inspectorUrl, { headers: LOOPBACK_ORIGIN } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`cannot open the inspector at ${inspectorUrl}`)), {
      once: true,
    });
  });
  let nextId = 0;
  const pending = new Map<number, (result: Record<string, unknown>) => void>();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: Record<string, unknown>;
      error?: unknown;
    };
    if (message.id !== undefined) pending.get(message.id)?.(message.result ?? { error: message.error });
    if (message.id !== undefined) pending.delete(message.id);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async usedAfterGc() {
      // workerd does not answer HeapProfiler.collectGarbage; a heap snapshot collects first (its
      // chunks are discarded).
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false });
      const usage = await call("Runtime.getHeapUsage");
      if (typeof usage.usedSize !== "number") throw new Error(`Runtime.getHeapUsage failed: ${JSON.stringify(usage)}`);
      return usage.usedSize;
    },
    close: () => ws.close(),
  };
}
