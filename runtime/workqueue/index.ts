export { WorkQueue, type GetResult, type QueueOptions } from './queue.ts';
export { DelayingQueue } from './delaying_queue.ts';
export { RateLimitingQueue, type RateLimitingQueueOptions } from './rate_limiting_queue.ts';
export {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
} from './rate_limiters.ts';
export {
  noopQueueMetricsProvider,
  QueueMetrics,
  type CounterMetric,
  type GaugeMetric,
  type HistogramMetric,
  type QueueMetricsProvider,
  type SettableGaugeMetric,
} from './metrics.ts';
