// Finds versions and pairs by name: the built-in ones, plus those a user's model file adds.

import { register } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_VERSIONS, BUILTIN_PAIRS, defineVersion, definePair, type Version, type Pair } from './svm/versions.js';
import type { Patch } from './svm/patches.js';
import { INVARIANTS, defineInvariant, selectInvariants, type InvariantSpec } from './svm/invariants.js';
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
  /** The invariants a checked version can check: the built-ins, then those of model files. */
  readonly invariants: InvariantSpec[] = [...INVARIANTS];

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
    const v = this.versions.get(id) ?? this.derived(id);
    if (!v) throw new RegistryError(`unknown version '${id}' (known: ${[...this.versions.keys()].join(', ')}; or VERSION+PATCH-PATCH..., or VERSION!all for a checked version)`);
    return v;
  }

  private readonly derivedCache = new Map<string, Version>();

  /**
   * A derived version: a known version with patches added (`+id`) or removed (`-id`), e.g.
   * `v6.7+72046d0a` (what triage and focused campaigns run; their entries name it). Patch
   * ids are those of any known version.
   */
  private derived(id: string): Version | undefined {
    const hit = this.derivedCache.get(id);
    if (hit) return hit;
    // A checked version: VERSION!all, or VERSION!id+id (the invariants it checks every step;
    // ',' works too where no version pair is parsed).
    const bang = id.lastIndexOf('!');
    if (bang > 0) {
      const base = this.version(id.slice(0, bang));
      const list = id.slice(bang + 1);
      let invariants;
      try {
        invariants = list === 'all' ? [...this.invariants] : selectInvariants(list.split(/[+,]/), this.invariants);
      } catch (err) {
        throw new RegistryError(`version '${id}': ${(err as Error).message}`);
      }
      const v = defineVersion({ ...base, id, description: `${base.id}, checking the invariants ${invariants.map((i) => i.id).join(', ')}`, invariants });
      this.derivedCache.set(id, v);
      return v;
    }
    const patches = new Map<string, Patch>();
    for (const v of this.versions.values()) for (const p of v.patches) patches.set(p.id, p);
    const ids = [...patches.keys()].sort((a, b) => b.length - a.length);
    const parse = (rest: string): [string, Patch][] | null => {
      if (!rest) return [];
      const op = rest[0]!;
      if (op !== '+' && op !== '-') return null;
      for (const pid of ids) {
        if (!rest.startsWith(pid, 1)) continue;
        const more = parse(rest.slice(1 + pid.length));
        if (more) return [[op, patches.get(pid)!], ...more];
      }
      return null;
    };
    for (const base of [...this.versions.values()].sort((a, b) => b.id.length - a.id.length)) {
      if (!id.startsWith(base.id) || id.length === base.id.length) continue;
      const steps = parse(id.slice(base.id.length));
      if (!steps) continue;
      let list: Patch[] = [...base.patches];
      for (const [op, p] of steps) list = op === '-' ? list.filter((x) => x.id !== p.id) : [...list.filter((x) => x.id !== p.id), p];
      const v = defineVersion({ id, description: `${base.id} with ${steps.map(([op, p]) => `${op}${p.id}`).join(' ')}`, patches: list });
      this.derivedCache.set(id, v);
      return v;
    }
    return undefined;
  }

  addInvariant(i: InvariantSpec): void {
    const inv = defineInvariant(i);
    const other = this.invariants.find((x) => x.id === inv.id);
    if (other) throw new RegistryError(`invariant '${inv.id}' is defined twice${other.file ? ` (first in ${other.file})` : ''}`);
    this.invariants.push(inv);
  }

  pair(id: string): Pair {
    const p = this.pairs.get(id);
    if (!p) throw new RegistryError(`unknown pair '${id}' (known: ${[...this.pairs.keys()].join(', ')})`);
    return p;
  }

  /**
   * Adds the versions, pairs and invariants of a user's model file: an ES module that
   * imports the model API from 'svmfuzz/models' and exports `versions`, `pairs` and/or
   * `invariants` (arrays), or a default export with those fields.
   */
  async loadModelsFile(file: string): Promise<{ versions: string[]; pairs: string[]; invariants: string[] }> {
    enableSelfResolution();
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(resolvePath(file)).href)) as Record<string, unknown>;
    } catch (err) {
      throw new RegistryError(`${file}: cannot load the model file: ${err instanceof Error ? err.message : String(err)}`);
    }
    const def = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as { versions?: unknown; pairs?: unknown; invariants?: unknown };
    const versions = def.versions ?? [];
    const pairs = def.pairs ?? [];
    const invariants = def.invariants ?? [];
    if (!Array.isArray(versions) || !Array.isArray(pairs) || !Array.isArray(invariants)) throw new RegistryError(`${file}: 'versions', 'pairs' and 'invariants' must be arrays`);
    if (!versions.length && !pairs.length && !invariants.length) throw new RegistryError(`${file}: exports no versions, no pairs and no invariants`);
    const added = { versions: [] as string[], pairs: [] as string[], invariants: [] as string[] };
    try {
      for (const i of invariants) {
        const spec = (i && typeof i === 'object' ? { ...(i as InvariantSpec), file } : i) as InvariantSpec;
        this.addInvariant(spec);
        added.invariants.push(spec.id);
      }
      for (const v of versions) {
        const ver = defineVersion(v as Version);
        this.addVersion(ver);
        added.versions.push(ver.id);
      }
      for (const p of pairs) {
        const pair = definePair(p as Pair);
        this.addPair(pair);
        added.pairs.push(pair.id);
      }
    } catch (err) {
      throw new RegistryError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return added;
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

let selfResolution = false;
/** Lets model files import 'svmfuzz/models' from anywhere (see harness/self-resolve.ts). */
export function enableSelfResolution(): void {
  if (selfResolution) return;
  register(new URL('../harness/self-resolve.js', import.meta.url));
  selfResolution = true;
}

/** A registry with the built-ins plus the user's model files, in order. */
export async function loadRegistry(modelFiles: readonly string[] = []): Promise<Registry> {
  const reg = new Registry();
  for (const f of modelFiles) await reg.loadModelsFile(f);
  return reg;
}
