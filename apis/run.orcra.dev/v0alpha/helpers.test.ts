import { describe, expect, it } from 'vitest';
import { effectiveImagePullPolicy, imageTag, parseHttpProbe } from './deployment.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { formatPath, suggest } from './manifesterror.ts';
import { environmentLabel, serviceDomain, serviceTargetPort } from './service.ts';

describe('durations', () => {
  it.each([
    ['5s', 5000],
    ['1m30s', 90_000],
    ['250ms', 250],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['5', undefined],
    ['5 s', undefined],
    ['', undefined],
    ['-1s', undefined],
  ])('parseDuration(%j) = %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each([
    [90_000, '1m30s'],
    [5000, '5s'],
    [3_723_004, '1h2m3s4ms'],
    [0, '0s'],
  ])('formatDuration(%j) = %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
  // Messages (back-off, progress deadline, drain) print whole seconds, hours included.
  it.each([
    [3_720_400, '1h2m'],
    [90_400, '1m30s'],
    [4_600, '5s'],
    [300, '0s'],
  ])('formatDuration(%j, 1000) = %j', (ms, text) => {
    expect(formatDuration(ms, 1000)).toBe(text);
  });
});

describe('images', () => {
  it.each([
    [{ image: 'nginx' }, 'Always'],
    [{ image: 'nginx:latest' }, 'Always'],
    [{ image: 'localhost:5000/app' }, 'Always'],
    [{ image: 'orun-test/busybox:1' }, 'IfNotPresent'],
    [{ image: 'localhost:5000/app:2' }, 'IfNotPresent'],
    [{ image: `app@sha256:${'a'.repeat(64)}` }, 'IfNotPresent'],
    [{ image: 'nginx:1', imagePullPolicy: 'Always' as const }, 'Always'],
    [{ image: 'nginx', imagePullPolicy: 'Never' as const }, 'Never'],
    [{ build: { context: 'x', buildMode: 'build-once' as const } }, 'Never'],
  ])('effectiveImagePullPolicy(%j) = %s', (spec, want) => {
    expect(effectiveImagePullPolicy(spec)).toBe(want);
  });
  it('reads tags after the registry port', () => {
    expect(imageTag('localhost:5000/a/b:3')).toBe('3');
    expect(imageTag('localhost:5000/a/b')).toBe('latest');
  });
});

describe('parseHttpProbe', () => {
  it.each([
    ['localhost:80/health', { scheme: 'http', host: 'localhost', port: 80, path: '/health' }],
    ['127.0.0.1:8080', { scheme: 'http', host: '127.0.0.1', port: 8080, path: '/' }],
    ['https://localhost:443/h?x=1', { scheme: 'https', host: 'localhost', port: 443, path: '/h?x=1' }],
    ['localhost/health', undefined],
    ['localhost:0/', undefined],
    ['localhost:99999/', undefined],
  ])('%s', (text, want) => {
    expect(parseHttpProbe(text)).toEqual(want);
  });
});

describe('service domains', () => {
  const spec = {
    ingress: { domain: { default: 'app.example.com', environment: '$ENV.app.example.com' }, ssl: false },
  };
  it.each([
    ['main', 'app.example.com'],
    ['staging', 'staging.app.example.com'],
    ['feature/New_UI', 'feature-new-ui.app.example.com'],
  ])('%s → %s', (branch, want) => {
    expect(serviceDomain(spec, branch)).toBe(want);
  });
  it('is not exposed off main without an environment template', () => {
    expect(
      serviceDomain({ ingress: { domain: { default: 'a.example.com' }, ssl: false } }, 'dev'),
    ).toBeUndefined();
  });
  it('labels environments as DNS labels', () => {
    expect(environmentLabel('--Weird//Branch--')).toBe('weird-branch');
    expect(environmentLabel('x'.repeat(80))).toHaveLength(63);
  });
  it('routes to ingress.port or the first port', () => {
    const dep = {
      spec: {
        ports: [
          { containerPort: 80, port: 8080, protocol: 'tcp' as const },
          { containerPort: 9090, port: 9090, protocol: 'tcp' as const },
        ],
      },
    };
    expect(serviceTargetPort(spec, dep as never)?.port).toBe(8080);
    expect(serviceTargetPort({ ingress: { ...spec.ingress, port: 9090 } }, dep as never)?.port).toBe(9090);
  });
});

describe('messages', () => {
  it.each([
    [['spec', 'ports', 0, 'containerPort'], 'spec.ports[0].containerPort'],
    [['spec', 'env', '1BAD'], 'spec.env["1BAD"]'],
    [['metadata', 'labels', 'example.com/tier'], 'metadata.labels["example.com/tier"]'],
    [[], ''],
  ])('formatPath(%j) = %s', (path, want) => {
    expect(formatPath(path)).toBe(want);
  });
  it.each([
    ['imgae', 'image'],
    ['prots', 'ports'],
    ['enviroment', 'environment'],
    ['replicas', undefined],
  ])('suggest(%s) = %s', (word, want) => {
    expect(suggest(word, ['image', 'ports', 'env', 'environment', 'volumes'])).toBe(want);
  });
});
