/**
 * Placement: which nodes an object applies to. `nodeName` and `nodeSelector.matchLabels` narrow
 * it; with neither, the object applies to every node tracking the branch.
 */

/** The placement fields of a Deployment, Service or ServiceGraph spec. */
export interface PlacementSpec {
  nodeName?: string | undefined;
  nodeSelector?: { matchLabels: Record<string, string> } | undefined;
}

/** What placement needs to know of a node: its name and labels. */
export interface NodeIdentity {
  metadata: { name: string; labels?: Record<string, string> | undefined };
}

/**
 * True when `obj` applies to `node`: its nodeName (if set) is the node's name and every
 * matchLabels entry (if set) is among the node's labels. Neither set → true.
 *
 * @example selectsNode({ spec: { nodeSelector: { matchLabels: { tier: 'web' } } } }, node) // node has tier=web
 */
export function selectsNode(obj: { spec: PlacementSpec }, node: NodeIdentity): boolean {
  const { nodeName, nodeSelector } = obj.spec;
  if (nodeName !== undefined && nodeName !== node.metadata.name) return false;
  const labels = node.metadata.labels ?? {};
  return Object.entries(nodeSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/**
 * True when some node could be selected by both `a` and `b`, judged from their placements alone
 * (used when the repository holds no Node objects): their nodeNames do not differ and their
 * matchLabels do not require different values for one key.
 */
export function placementsOverlap(a: PlacementSpec, b: PlacementSpec): boolean {
  if (a.nodeName !== undefined && b.nodeName !== undefined && a.nodeName !== b.nodeName) return false;
  const la = a.nodeSelector?.matchLabels ?? {};
  const lb = b.nodeSelector?.matchLabels ?? {};
  return Object.entries(la).every(([k, v]) => lb[k] === undefined || lb[k] === v);
}
