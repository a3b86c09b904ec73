export {
  WebhookReceiver,
  WebhookErrorCode,
  type WebhookOutcome,
  type WebhookReceiverOptions,
} from './receiver.ts';
export { PollTrigger, type TriggerResult } from './trigger.ts';
export { ReplayGuard } from './replay.ts';
export { isProvider, PROVIDERS, sign, verify, type Provider, type Verdict } from './verify.ts';
