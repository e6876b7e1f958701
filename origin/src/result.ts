// Every verification stage returns a Result; the edge (errors.ts) turns a failure into the one
// error type callers see. Exceptions inside the kit are bugs, not refusals.
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}
