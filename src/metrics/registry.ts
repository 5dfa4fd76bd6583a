/**
 * A small Prometheus registry: counters, gauges and histograms with labels, written in the text
 * exposition format 0.0.4. Kept in-house because the server needs three metric kinds and no
 * push, and a runtime dependency for that would be most of its weight.
 */
export type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly labels: Labels;
  value: number;
}

interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: number[];
  sum: number;
  count: number;
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** Refreshes gauge values just before a scrape. */
  readonly collect?: () => void;
  render(): string[];
}

/** Default buckets (seconds) for request and wait durations. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const keyOf = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function numberText(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return Number.isNaN(n) ? "NaN" : String(n);
}

export interface Registry {
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string, collect?: (g: Gauge) => void): Gauge;
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram;
  /** The whole registry in the Prometheus text format. */
  render(): string;
}

export function createRegistry(): Registry {
  const metrics: Metric[] = [];

  const seriesMap = (): { get(labels: Labels): Series; all(): Series[]; clear(): void } => {
    const map = new Map<string, Series>();
    return {
      get(labels) {
        const key = keyOf(labels);
        let s = map.get(key);
        if (!s) map.set(key, (s = { labels: { ...labels }, value: 0 }));
        return s;
      },
      all: () => [...map.values()],
      clear: () => map.clear(),
    };
  };

  return {
    counter(name, help) {
      const series = seriesMap();
      metrics.push({
        name, help, type: "counter",
        render: () => series.all().map((s) => `${name}${labelText(s.labels)} ${numberText(s.value)}`),
      });
      return {
        inc(labels = {}, by = 1) {
          series.get(labels).value += by;
        },
        get: (labels = {}) => series.get(labels).value,
      };
    },
    gauge(name, help, collect) {
      const series = seriesMap();
      const gauge: Gauge = { set: (labels, value) => void (series.get(labels).value = value) };
      metrics.push({
        name, help, type: "gauge",
        collect: collect ? () => { series.clear(); collect(gauge); } : undefined,
        render: () => series.all().map((s) => `${name}${labelText(s.labels)} ${numberText(s.value)}`),
      });
      return gauge;
    },
    histogram(name, help, buckets = DURATION_BUCKETS_SECONDS) {
      const bounds = [...buckets].sort((a, b) => a - b);
      const map = new Map<string, HistogramSeries>();
      metrics.push({
        name, help, type: "histogram",
        render: () => [...map.values()].flatMap((s) => [
          ...bounds.map((b, i) => `${name}_bucket${labelText(s.labels, ["le", numberText(b)])} ${s.counts[i]}`),
          `${name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`,
          `${name}_sum${labelText(s.labels)} ${numberText(s.sum)}`,
          `${name}_count${labelText(s.labels)} ${s.count}`,
        ]),
      });
      return {
        observe(labels, value) {
          const key = keyOf(labels);
          let s = map.get(key);
          if (!s) map.set(key, (s = { labels: { ...labels }, counts: bounds.map(() => 0), sum: 0, count: 0 }));
          for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]) s.counts[i]++;
          s.sum += value;
          s.count++;
        },
      };
    },
    render() {
      const out: string[] = [];
      for (const m of metrics) {
        m.collect?.();
        out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
      }
      return out.join("\n") + "\n";
    },
  };
}
