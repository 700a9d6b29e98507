import { useState } from "preact/hooks";

/**
 * Cursor paging as the API does it (`startingAfter` = the last id of the previous page): a stack of
 * cursors so Previous goes back exactly, whatever was created in between.
 */
export function useCursorPages(): {
  cursor: string | undefined;
  page: number;
  next: (lastId: string) => void;
  previous: () => void;
  reset: () => void;
} {
  const [stack, setStack] = useState<string[]>([]);
  return {
    cursor: stack.at(-1),
    page: stack.length + 1,
    next: (lastId) => setStack((s) => [...s, lastId]),
    previous: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

/** Previous / Next buttons with the page number; Next only when the API said there is more. */
export function Pager({
  page,
  hasMore,
  onPrevious,
  onNext,
}: {
  page: number;
  hasMore: boolean;
  onPrevious: () => void;
  onNext: () => void;
}) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="button secondary" onClick={onPrevious} disabled={page === 1}>
        ← Previous
      </button>
      <span aria-live="polite">Page {page}</span>
      <button type="button" class="button secondary" onClick={onNext} disabled={!hasMore}>
        Next →
      </button>
    </nav>
  );
}
