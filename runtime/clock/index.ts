export { RealClock, realClock, rfc3339, sleepWith, type Clock, type Timer } from './clock.ts';
export { FakeClock, FAKE_CLOCK_START, flushMicrotasks } from './fake.ts';
