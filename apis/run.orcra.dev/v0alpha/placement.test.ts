import { describe, expect, it } from 'vitest';
import { type PlacementSpec, placementsOverlap, selectsNode } from './placement.ts';

const node = { metadata: { name: 'n1', labels: { tier: 'web', zone: 'a' } } };

describe('selectsNode', () => {
  it.each<{ name: string; spec: PlacementSpec; want: boolean }>([
    { name: 'no placement applies everywhere', spec: {}, want: true },
    { name: 'matching nodeName', spec: { nodeName: 'n1' }, want: true },
    { name: 'other nodeName', spec: { nodeName: 'n2' }, want: false },
    { name: 'matching labels', spec: { nodeSelector: { matchLabels: { tier: 'web' } } }, want: true },
    {
      name: 'a label with another value',
      spec: { nodeSelector: { matchLabels: { tier: 'db' } } },
      want: false,
    },
    { name: 'a label the node lacks', spec: { nodeSelector: { matchLabels: { gpu: 'yes' } } }, want: false },
    { name: 'empty matchLabels', spec: { nodeSelector: { matchLabels: {} } }, want: true },
    {
      name: 'nodeName and labels both match',
      spec: { nodeName: 'n1', nodeSelector: { matchLabels: { zone: 'a' } } },
      want: true,
    },
    {
      name: 'nodeName matches, labels do not',
      spec: { nodeName: 'n1', nodeSelector: { matchLabels: { zone: 'b' } } },
      want: false,
    },
  ])('$name', ({ spec, want }) => {
    expect(selectsNode({ spec }, node)).toBe(want);
  });

  it('treats a node without labels as having none', () => {
    expect(
      selectsNode({ spec: { nodeSelector: { matchLabels: { a: 'b' } } } }, { metadata: { name: 'x' } }),
    ).toBe(false);
  });
});

describe('placementsOverlap', () => {
  it.each<{ a: PlacementSpec; b: PlacementSpec; want: boolean }>([
    { a: {}, b: {}, want: true },
    { a: { nodeName: 'x' }, b: { nodeName: 'y' }, want: false },
    { a: { nodeName: 'x' }, b: {}, want: true },
    {
      a: { nodeSelector: { matchLabels: { t: '1' } } },
      b: { nodeSelector: { matchLabels: { t: '2' } } },
      want: false,
    },
    {
      a: { nodeSelector: { matchLabels: { t: '1' } } },
      b: { nodeSelector: { matchLabels: { u: '2' } } },
      want: true,
    },
  ])('$a / $b → $want', ({ a, b, want }) => {
    expect(placementsOverlap(a, b)).toBe(want);
  });
});
