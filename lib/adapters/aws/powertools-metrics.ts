import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, MetricsRecorder } from '../../ports.js';

const METRICS_NAMESPACE = 'DurableImageApi';

/**
 * CloudWatch metrics through Powertools Metrics (Embedded Metric Format on stdout). Each value goes out at once as
 * its own EMF blob (a single metric) with the service as default dimension plus the given ones, so an alarm on
 * the service-only metric and a dashboard split by model can both exist; nothing is buffered, so no invocation
 * ends with metrics unpublished (and no "no metrics" warning for requests that record none). The first invocation
 * of a container records Powertools' `ColdStart` with a `function_name` dimension.
 */
export class PowertoolsMetrics implements MetricsRecorder {
  private readonly metrics: Metrics;
  /** POWERTOOLS_METRICS_DISABLED, as parsed by lib/config.ts. */
  private readonly enabled: boolean;

  constructor(options: { serviceName: string; enabled: boolean }) {
    this.metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: options.serviceName });
    this.enabled = options.enabled;
  }

  coldStart(functionName: string): void {
    if (this.enabled) this.metrics.captureColdStartMetric(functionName);
  }

  record(name: MetricName, value: number, unit: 'Count' | 'Milliseconds' | 'None', dimensions: Record<string, string> = {}): void {
    if (!this.enabled) return;
    const single = this.metrics.singleMetric();
    for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
    single.addMetric(name, unit === 'None' ? MetricUnit.NoUnit : MetricUnit[unit], value);
  }
}
