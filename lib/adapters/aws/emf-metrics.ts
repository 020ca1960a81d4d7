import type { MetricName, MetricsRecorder } from '../../ports.js';

export const METRICS_NAMESPACE = 'DurableImageApi';

/**
 * CloudWatch metrics as Embedded Metric Format lines on stdout: each value goes out at once as its own line (a
 * single metric) with the service as default dimension plus the given ones, so an alarm on the service-only metric
 * and a dashboard split by model can both exist. Nothing is buffered, so no invocation ends with metrics
 * unpublished. The first invocation of a container records `ColdStart` with a `function_name` dimension.
 *
 * Why not Powertools Metrics, which wrote the same lines before: it was about 27 KB of the bundle (with the parts
 * of Powertools commons only it used) for one JSON line per value, and the hardening issue's bundle target could
 * not be met with it (README "Performance"). The format is AWS's EMF specification; tests/integration reads the
 * lines back as CloudWatch would. `POWERTOOLS_METRICS_DISABLED=true` still silences it, as it silenced Powertools.
 */
export class EmfMetrics implements MetricsRecorder {
  private coldStartRecorded = false;

  constructor(
    private readonly options: {
      serviceName: string;
      enabled: boolean;
      /** stdout by default: written directly, not through console, whose Lambda runtime prefix would break EMF. */
      write?: (line: string) => void;
      now?: () => number;
    },
  ) {}

  coldStart(functionName: string): void {
    if (this.coldStartRecorded) return;
    this.coldStartRecorded = true;
    this.emit('ColdStart', 1, 'Count', { function_name: functionName });
  }

  record(name: MetricName, value: number, unit: 'Count' | 'Milliseconds' | 'None', dimensions: Record<string, string> = {}): void {
    this.emit(name, value, unit, dimensions);
  }

  private emit(name: string, value: number, unit: 'Count' | 'Milliseconds' | 'None', dimensions: Record<string, string>): void {
    if (!this.options.enabled) return;
    const all: Record<string, string> = { service: this.options.serviceName, ...dimensions };
    const line = JSON.stringify({
      _aws: {
        Timestamp: (this.options.now ?? Date.now)(),
        CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(all)], Metrics: [{ Name: name, Unit: unit }] }],
      },
      ...all,
      [name]: value,
    });
    (this.options.write ?? ((text: string) => process.stdout.write(text)))(`${line}\n`);
  }
}
