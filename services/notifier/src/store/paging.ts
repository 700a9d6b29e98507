/** One page of a cursor-paged list. */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
  /** Set when `startingAfter` named nothing the caller can see. */
  cursorMissing?: boolean;
}

/** Turns `limit + 1` fetched rows into a page of at most `limit` and whether more follow. */
export function pageOf<T>(rows: readonly T[], limit: number): Page<T> {
  return { items: rows.slice(0, limit), hasMore: rows.length > limit };
}
