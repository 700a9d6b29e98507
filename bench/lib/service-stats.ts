/** Per-service resource figures read from each service's own /metrics (prom-client process metrics). */
export interface ServiceSample {
  rssBytes: number;
  cpuSeconds: number;
  eventLoopP99Seconds: number;
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : Number.NaN;
}

export async function sampleService(baseUrl: string): Promise<ServiceSample> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return {
    rssBytes: metric(text, "process_resident_memory_bytes"),
    cpuSeconds: metric(text, "process_cpu_seconds_total"),
    eventLoopP99Seconds: metric(text, "nodejs_eventloop_lag_p99_seconds"),
  };
}

/**
 * Samples every service (name → base URL of its /metrics) every `everyMs` until stopped; keeps the peak
 * RSS and the CPU used.
 */
export function watchServices(metricsUrls: Record<string, string>, everyMs = 1000) {
  const services = Object.entries(metricsUrls).map(([service, url]) => ({ service, url }));
  const first = new Map<string, ServiceSample>();
  const last = new Map<string, ServiceSample>();
  const peakRss = new Map<string, number>();
  const samples: Array<{ at: number; service: string; sample: ServiceSample }> = [];
  const take = async () => {
    await Promise.all(
      services.map(async ({ service, url }) => {
        const sample = await sampleService(url).catch(() => undefined);
        if (!sample) return;
        if (!first.has(service)) first.set(service, sample);
        last.set(service, sample);
        peakRss.set(service, Math.max(peakRss.get(service) ?? 0, sample.rssBytes));
        samples.push({ at: Date.now(), service, sample });
      }),
    );
  };
  void take();
  const timer = setInterval(() => void take(), everyMs);
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await take();
      return services.map(({ service }) => ({
        service,
        peakRssMb: (peakRss.get(service) ?? Number.NaN) / 2 ** 20,
        cpuSeconds: (last.get(service)?.cpuSeconds ?? Number.NaN) - (first.get(service)?.cpuSeconds ?? Number.NaN),
      }));
    },
  };
}
