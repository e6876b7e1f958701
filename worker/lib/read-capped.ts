/**
 * Reads a body stream to the end, or stops as soon as it passes `cap` bytes and returns
 * "too_large": Content-Length can lie or be absent, so the stream itself is what is capped.
 */
export async function readCapped(body: ReadableStream<Uint8Array>, cap: number): Promise<Uint8Array | "too_large"> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel();
      return "too_large";
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
