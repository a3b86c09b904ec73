export {
  EventRecorder,
  recordEventFor,
  type EventRecord,
  type EventRecorderOptions,
  type EventSink,
  type EventType,
  type RecordEvent,
} from './recorder.ts';
