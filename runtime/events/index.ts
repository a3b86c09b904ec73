export {
  EventRecorder,
  type EventRecord,
  type EventRecorderOptions,
  type EventSink,
  type EventType,
} from './recorder.ts';
