import { type Connection, createConnection } from "mysql2/promise";

/** Server-wide work counters of a MariaDB/MySQL server (its global status). */
export interface DatabaseWork {
  /** Statements run, each statement of a multi-statement round trip counted on its own (`Questions`). */
  statements: number;
  /** Explicit transactions committed (`Com_commit`; single autocommit statements are not counted). */
  commits: number;
  /** InnoDB's fsync calls, redo log and data files (`Innodb_data_fsyncs`): what the server's own group commit saves. */
  fsyncs: number;
  /** Rows inserted, updated and deleted, by any engine (`Handler_write` + `Handler_update` + `Handler_delete`). */
  rowsWritten: number;
  /**
   * Pages InnoDB had to read from disk because its buffer pool lacked them (`Innodb_buffer_pool_reads`): near 0
   * while the working set fits in memory, and what slows the server down once the tables outgrow it.
   */
  pageReads: number;
}

const COUNTERS = {
  Questions: "statements",
  Com_commit: "commits",
  Innodb_data_fsyncs: "fsyncs",
  Handler_write: "rowsWritten",
  Handler_update: "rowsWritten",
  Handler_delete: "rowsWritten",
  Innodb_buffer_pool_reads: "pageReads",
} as const;

/**
 * Reads the server's global work counters, for "database work per payout" between two readings. They
 * count every client of the server, so a phase should run nothing else against it.
 */
export class DatabaseWorkMeter {
  readonly #connection: Connection;

  private constructor(connection: Connection) {
    this.#connection = connection;
  }

  static async open(serverUrl: string): Promise<DatabaseWorkMeter> {
    return new DatabaseWorkMeter(await createConnection(serverUrl));
  }

  async read(): Promise<DatabaseWork> {
    const [rows] = await this.#connection.query(
      `SHOW GLOBAL STATUS WHERE Variable_name IN (${Object.keys(COUNTERS)
        .map((name) => `'${name}'`)
        .join(", ")})`,
    );
    // NaN until read, so a counter the server lacks prints as NaN rather than as no work.
    const work: DatabaseWork = {
      statements: Number.NaN,
      commits: Number.NaN,
      fsyncs: Number.NaN,
      rowsWritten: Number.NaN,
      pageReads: Number.NaN,
    };
    for (const { Variable_name, Value } of rows as Array<{ Variable_name: keyof typeof COUNTERS; Value: string }>) {
      const field = COUNTERS[Variable_name];
      work[field] = (Number.isNaN(work[field]) ? 0 : work[field]) + Number(Value);
    }
    return work;
  }

  close(): Promise<void> {
    return this.#connection.end();
  }
}

/** Each counter's growth from `before` to `after`, divided by `per`. */
export function workPer(before: DatabaseWork, after: DatabaseWork, per: number): DatabaseWork {
  return {
    statements: (after.statements - before.statements) / per,
    commits: (after.commits - before.commits) / per,
    fsyncs: (after.fsyncs - before.fsyncs) / per,
    rowsWritten: (after.rowsWritten - before.rowsWritten) / per,
    pageReads: (after.pageReads - before.pageReads) / per,
  };
}

/** The heading of {@link workText}'s figures. */
export const WORK_HEADING = "database statements · commits · fsyncs · rows written · pages read";

/** `statements · commits · fsyncs · rows written · pages read`, as the benchmarks print them. */
export function workText({ statements, commits, fsyncs, rowsWritten, pageReads }: DatabaseWork): string {
  return `${statements.toFixed(1)} · ${commits.toFixed(2)} · ${fsyncs.toFixed(2)} · ${rowsWritten.toFixed(1)} · ${pageReads.toFixed(2)}`;
}
