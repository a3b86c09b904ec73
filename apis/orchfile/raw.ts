/**
 * The per-file intermediate form: what each file says, before ARG resolution, merging and
 * validation. Every value keeps the position it was written at, so later stages can point at it.
 */
import type { ListDirective, ScalarDirective } from './directives.ts';
import type { SourcePos } from './types.ts';

/** A value and where it was written. */
export interface Located<T = string> {
  readonly value: T;
  readonly pos: SourcePos;
}

export interface RawPublish {
  readonly address: string;
  readonly host: string;
  readonly container: string;
}

export interface RawVolume {
  readonly source: string;
  readonly destination: string;
}

export interface RawEnv {
  readonly key: string;
  readonly value: string;
}

/** A list directive's entries plus whether this file CLEARed it (discarding earlier files' entries). */
export interface RawList<T> {
  cleared: boolean;
  entries: Located<T>[];
}

export interface RawService {
  readonly name: string;
  /** The SERVICE line. */
  readonly pos: SourcePos;
  readonly scalars: Map<ScalarDirective, Located>;
  readonly env: RawList<RawEnv>;
  readonly publish: RawList<RawPublish>;
  readonly volumes: RawList<RawVolume>;
  readonly envFiles: RawList<string>;
  readonly requires: RawList<string>;
  readonly after: RawList<string>;
}

export interface RawArg {
  readonly name: string;
  readonly value: string;
  readonly pos: SourcePos;
}

export interface RawFile {
  readonly path: string;
  readonly args: RawArg[];
  readonly services: RawService[];
}

export function newRawService(name: string, pos: SourcePos): RawService {
  return {
    name,
    pos,
    scalars: new Map(),
    env: { cleared: false, entries: [] },
    publish: { cleared: false, entries: [] },
    volumes: { cleared: false, entries: [] },
    envFiles: { cleared: false, entries: [] },
    requires: { cleared: false, entries: [] },
    after: { cleared: false, entries: [] },
  };
}

/** The RawList of a service that a list directive fills. */
export function listOf(svc: RawService, d: ListDirective): RawList<unknown> {
  switch (d) {
    case 'ENV':
      return svc.env;
    case 'ENV_FILE':
      return svc.envFiles;
    case 'PUBLISH':
      return svc.publish;
    case 'VOLUME':
      return svc.volumes;
    case 'REQUIRES':
      return svc.requires;
    case 'AFTER':
      return svc.after;
  }
}
