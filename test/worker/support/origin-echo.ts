// What the forward-mode test origin echoes back: shared by the origin (Node) and the tests
// (workerd). Types only: no runtime imports.
export interface Echo {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  bodyBase64: string;
}
