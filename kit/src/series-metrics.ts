import type { Metric, Registry } from "prom-client";

/**
 * Counters and histograms for hot paths. A series is bound once to its label values; recording on it
 * is then plain arithmetic, where prom-client builds, checks and hashes the label set on every record
 * (about a microsecond and a few hundred bytes each, several times per request). They register with
 * a prom-client Registry and are exposed exactly as prom-client's own Counter and Histogram are.
 */

export interface SeriesMetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

export interface CounterSeries {
  inc(): void;
}

export interface HistogramSeries {
  observe(value: number): void;
}

type Labels = Record<string, string>;

interface SeriesState {
  labels: Labels;
  /** Whether it is in `recorded`: series appear once something was recorded on them. */
  listed: boolean;
}

/** Series by their label values, listed in the order they were first recorded (as prom-client lists them). */
abstract class SeriesMetric<L extends string, S extends SeriesState> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = "sum";
  abstract readonly type: "counter" | "histogram";
  readonly #bound = new Map<string, S>();
  protected recorded: S[] = [];

  constructor(config: SeriesMetricConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric<L>);
  }

  /** The series of these label values (in `labelNames` order), made by `make` the first time. */
  protected bind(values: readonly string[], make: (labels: Labels) => S): S {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`);
    }
    const key = values.join("\u0000");
    let series = this.#bound.get(key);
    if (!series) {
      const labels: Labels = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i]!;
      });
      series = make(labels);
      this.#bound.set(key, series);
    }
    return series;
  }

  /** Called before each record on `series`. */
  protected list(series: S): void {
    if (series.listed) return;
    series.listed = true;
    this.recorded.push(series);
  }

  /** Forgets every recorded value (Registry.resetMetrics); bound series start again from zero. */
  reset(): void {
    for (const series of this.recorded) {
      series.listed = false;
      this.clear(series);
    }
    this.recorded = [];
  }

  protected abstract clear(series: S): void;
}

interface CounterState extends SeriesState {
  value: number;
}

export class SeriesCounter<L extends string = string> extends SeriesMetric<L, CounterState & CounterSeries> {
  readonly type = "counter";

  series(...values: string[]): CounterSeries {
    return this.bind(values, (labels) => {
      const series = {
        labels,
        listed: false,
        value: 0,
        inc: () => {
          this.list(series);
          series.value += 1;
        },
      };
      return series;
    });
  }

  protected clear(series: CounterState): void {
    series.value = 0;
  }

  async get() {
    return {
      help: this.help,
      name: this.name,
      type: this.type,
      values: this.recorded.map(({ value, labels }) => ({ value, labels })),
      aggregator: this.aggregator,
    };
  }
}

/** One line of the text format, as prom-client's Histogram hands it to the Registry. */
interface ExposedLine {
  labels: Record<string, string | number>;
  sharedLabels: Labels;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

interface HistogramState extends SeriesState {
  /** Observations per bucket, not cumulative; those above every bound are only counted. */
  buckets: number[];
  sum: number;
  count: number;
}

export class SeriesHistogram<L extends string = string> extends SeriesMetric<L, HistogramState & HistogramSeries> {
  readonly type = "histogram";
  readonly #bounds: readonly number[];

  constructor(config: SeriesMetricConfig<L> & { buckets: readonly number[] }) {
    super(config);
    this.#bounds = config.buckets;
  }

  series(...values: string[]): HistogramSeries {
    const bounds = this.#bounds;
    return this.bind(values, (labels) => {
      const series = {
        labels,
        listed: false,
        buckets: bounds.map(() => 0),
        sum: 0,
        count: 0,
        observe: (value: number) => {
          if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
          this.list(series);
          let i = 0;
          while (i < bounds.length && value > bounds[i]!) i++;
          if (i < bounds.length) series.buckets[i]! += 1;
          series.sum += value;
          series.count += 1;
        },
      };
      return series;
    });
  }

  protected clear(series: HistogramState): void {
    series.buckets.fill(0);
    series.sum = 0;
    series.count = 0;
  }

  /** Bucket, sum and count lines of every series, shaped as prom-client's Histogram shapes them for the text format. */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values = this.recorded.flatMap((series) => {
      let cumulative = 0;
      const lines: ExposedLine[] = this.#bounds.map((le, i) => {
        cumulative += series.buckets[i]!;
        return { labels: { le }, sharedLabels: series.labels, value: cumulative, metricName: bucket, exemplar: null };
      });
      lines.push(
        {
          labels: { le: "+Inf" },
          sharedLabels: series.labels,
          value: series.count,
          metricName: bucket,
          exemplar: null,
        },
        {
          labels: {},
          sharedLabels: series.labels,
          value: series.sum,
          metricName: `${this.name}_sum`,
          exemplar: undefined,
        },
        {
          labels: {},
          sharedLabels: series.labels,
          value: series.count,
          metricName: `${this.name}_count`,
          exemplar: undefined,
        },
      );
      return lines;
    });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As prom-client's Histogram.get: each line's series labels merged into its own. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...line }) => ({
        ...line,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
