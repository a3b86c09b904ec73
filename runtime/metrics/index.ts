export { newRegistry, RuntimeMetrics, type Registry } from './prom.ts';
