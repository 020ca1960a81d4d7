import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, MetricsRecorder } from '../ports.js';

export const METRICS_NAMESPACE = 'DurableImageApi';

/**
 * Powertools Metrics: each value goes out at once as its own EMF line (a single metric) with the service as
 * default dimension plus the given ones, so an alarm on the service-only metric and a dashboard split by model
 * can both exist. Nothing is buffered, so no invocation ends with metrics unpublished (and no "no metrics" warning
 * for requests that record none).
 */
export class PowertoolsMetrics implements MetricsRecorder {
  constructor(private readonly metrics: Metrics) {}

  static create(serviceName: string): PowertoolsMetrics {
    return new PowertoolsMetrics(new Metrics({ namespace: METRICS_NAMESPACE, serviceName }));
  }

  /** The first invocation of a container records `ColdStart` (Powertools' own metric). */
  coldStart(functionName: string): void {
    this.metrics.captureColdStartMetric(functionName);
  }

  record(name: MetricName, value: number, unit: 'Count' | 'Milliseconds' | 'None', dimensions: Record<string, string> = {}): void {
    const single = this.metrics.singleMetric();
    for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
    single.addMetric(name, unit === 'None' ? MetricUnit.NoUnit : MetricUnit[unit], value);
  }
}
