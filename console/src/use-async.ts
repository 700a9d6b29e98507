import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** A request's state as views render it: loading (first time), failed, or its data. */
export type AsyncState<T> =
  | { status: "loading" }
  | { status: "error"; error: unknown }
  | { status: "ready"; data: T; refreshing: boolean; refreshError: unknown };

/**
 * Runs `load` when `deps` change and, with `refreshMs`, again on that period while the page is visible
 * (live updates). A refresh keeps the data on screen and reports its own failure as `refreshError`,
 * so a blip does not blank the view. Answers of superseded loads are dropped.
 */
export function useAsync<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  options: { refreshMs?: number } = {},
): { state: AsyncState<T>; reload: () => void } {
  const [state, setState] = useState<AsyncState<T>>({ status: "loading" });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback((refresh: boolean) => {
    const mine = ++generation.current;
    const controller = new AbortController();
    if (refresh) {
      setState((s) => (s.status === "ready" ? { ...s, refreshing: true } : s));
    } else {
      setState({ status: "loading" });
    }
    loadRef.current(controller.signal).then(
      (data) => {
        if (mine === generation.current) setState({ status: "ready", data, refreshing: false, refreshError: null });
      },
      (error: unknown) => {
        if (mine !== generation.current) return;
        setState((s) =>
          refresh && s.status === "ready"
            ? { ...s, refreshing: false, refreshError: error }
            : { status: "error", error },
        );
      },
    );
    return controller;
  }, []);

  // The caller's deps decide when to load again.
  useEffect(() => {
    const controller = run(false);
    return () => {
      generation.current++;
      controller.abort();
    };
  }, deps);

  const { refreshMs } = options;
  useEffect(() => {
    if (!refreshMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") run(true);
    }, refreshMs);
    return () => window.clearInterval(timer);
  }, [refreshMs, run]);

  return { state, reload: useCallback(() => void run(true), [run]) };
}
