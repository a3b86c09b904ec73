export { classify, NOTIFY_EVENTS, type Notice, type NotifyEvent, type StatusView } from './classify.ts';
export {
  ENDPOINT_TYPES,
  host,
  maskSecrets,
  Notifier,
  parseEndpoint,
  type Delivery,
  type Endpoint,
  type EndpointType,
  type NotifierOptions,
} from './notifier.ts';
export { notificationsRunnable, type NotifyWatchOptions } from './watch.ts';
