import { useEffect, useState } from "preact/hooks";

/** The console lives under this path on the gateway; routes below are relative to it. */
export const BASE = "/console";

/** The current client route, e.g. `/payouts/po_1` (without the base), and its query. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const path = window.location.pathname.startsWith(BASE)
    ? window.location.pathname.slice(BASE.length) || "/"
    : window.location.pathname;
  return { path, query: new URLSearchParams(window.location.search) };
}

/** Goes to a client route without a page load (`replace` keeps the history entry count). */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = `${BASE}${to}`;
  if (options.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new PopStateEvent("popstate"));
  // A new view starts at its top, and keyboard users land on its heading (see Page).
  window.scrollTo(0, 0);
}

/** The current location; re-renders on navigation and on the browser's back and forward. */
export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return location;
}

/** `matchRoute("/payouts/:id", "/payouts/po_1")` → `{ id: "po_1" }`; null when the path does not match. */
export function matchRoute(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const source = pattern.replace(/:(\w+)/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  const match = new RegExp(`^${source}/?$`).exec(path);
  if (!match) return null;
  return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]));
}
