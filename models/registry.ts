// Finds versions and pairs by name: the built-in ones, plus those a user's model file adds.

import { BUILTIN_VERSIONS, BUILTIN_PAIRS, type Version, type Pair } from './svm/versions.js';
import { defaultConfig, type SvmConfig } from './svm/config.js';

export class RegistryError extends Error {}

/** What a command runs: two versions (or one) and the config streams start from. */
export interface Selection {
  readonly label: string;
  readonly left: Version;
  readonly right: Version | null;
  readonly config: SvmConfig;
}

export class Registry {
  readonly versions = new Map<string, Version>();
  readonly pairs = new Map<string, Pair>();

  constructor(builtins = true) {
    if (builtins) {
      for (const v of BUILTIN_VERSIONS) this.addVersion(v);
      for (const p of BUILTIN_PAIRS) this.addPair(p);
    }
  }

  addVersion(v: Version): void {
    if (this.versions.has(v.id)) throw new RegistryError(`version '${v.id}' is defined twice`);
    this.versions.set(v.id, v);
  }

  addPair(p: Pair): void {
    if (this.pairs.has(p.id)) throw new RegistryError(`pair '${p.id}' is defined twice`);
    this.version(p.left);
    this.version(p.right);
    this.pairs.set(p.id, p);
  }

  version(id: string): Version {
    const v = this.versions.get(id);
    if (!v) throw new RegistryError(`unknown version '${id}' (known: ${[...this.versions.keys()].join(', ')})`);
    return v;
  }

  pair(id: string): Pair {
    const p = this.pairs.get(id);
    if (!p) throw new RegistryError(`unknown pair '${id}' (known: ${[...this.pairs.keys()].join(', ')})`);
    return p;
  }

  /** Resolves `--pair P`, `--versions A,B` or `--version V` (exactly one of them). */
  select(opts: { pair?: string; versions?: string; version?: string }): Selection {
    const given = [opts.pair, opts.versions, opts.version].filter((x) => x !== undefined).length;
    if (given !== 1) throw new RegistryError('give exactly one of --pair P, --versions A,B or --version V');
    if (opts.pair !== undefined) {
      const p = this.pair(opts.pair);
      return { label: p.id, left: this.version(p.left), right: this.version(p.right), config: defaultConfig(p.config) };
    }
    if (opts.versions !== undefined) {
      const ids = opts.versions.split(',').map((s) => s.trim());
      if (ids.length !== 2 || !ids[0] || !ids[1]) throw new RegistryError(`--versions takes two version ids, A,B (got '${opts.versions}')`);
      return { label: `${ids[0]}..${ids[1]}`, left: this.version(ids[0]), right: this.version(ids[1]), config: defaultConfig() };
    }
    const v = this.version(opts.version!);
    return { label: v.id, left: v, right: null, config: defaultConfig() };
  }
}
