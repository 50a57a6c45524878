/**
 * Joins path segments, percent-encoding each one, so a name holding `/`, `?`, `#` or a space stays one
 * segment and cannot reach another endpoint. `trailingSlash` is for APIs that answer 301 without it.
 */
export function pathOf(segments: ReadonlyArray<string | number>, trailingSlash = false): string {
  const joined = `/${segments.map((s) => encodeURIComponent(String(s))).join("/")}`;
  return trailingSlash ? `${joined}/` : joined;
}
