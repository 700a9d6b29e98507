import type { Page } from "./types.ts";

/**
 * A list call: iterate it with `for await` to get pages one by one (each fetched when needed), or use
 * {@link PageIterator.items} to walk every item across pages. Nothing is fetched until you iterate.
 */
export class PageIterator<T extends { id: string }> implements AsyncIterable<Page<T>> {
  readonly #fetchPage: (startingAfter: string | undefined) => Promise<Page<T>>;
  readonly #startingAfter: string | undefined;

  constructor(fetchPage: (startingAfter: string | undefined) => Promise<Page<T>>, startingAfter?: string) {
    this.#fetchPage = fetchPage;
    this.#startingAfter = startingAfter;
  }

  /** Pages in order; stops after the page whose `hasMore` is false. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Page<T>, void, undefined> {
    let after = this.#startingAfter;
    for (;;) {
      const page = await this.#fetchPage(after);
      yield page;
      const last = page.data.at(-1);
      if (!page.hasMore || !last) return;
      after = last.id;
    }
  }

  /** The first page only. */
  firstPage(): Promise<Page<T>> {
    return this.#fetchPage(this.#startingAfter);
  }

  /** Every item across pages, fetching the next page when the previous one is used up. */
  async *items(): AsyncGenerator<T, void, undefined> {
    for await (const page of this) yield* page.data;
  }

  /** Collects items across pages, at most `max` (default 1,000) so a runaway list cannot exhaust memory. */
  async toArray(max = 1000): Promise<T[]> {
    const all: T[] = [];
    for await (const item of this.items()) {
      if (all.length >= max) break;
      all.push(item);
    }
    return all;
  }
}
