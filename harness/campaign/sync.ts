// Corpus exchange between running campaigns through a shared directory (`fuzz --sync DIR`:
// NFS, a Kubernetes ReadWriteMany volume, a mounted bucket), in the manner of AFL++'s sync
// directory. Each campaign owns DIR/<name>/: it publishes the inputs its lanes found
// interesting as numbered, immutable files written atomically (a reader never sees half a
// file), and reads the files of every other campaign of the same pair and versions that it
// has not read yet. Nothing waits for a peer: a slow, vanished or unreadable one is
// skipped and tried again at the next exchange. Imported inputs go to every lane like the
// inputs lanes share among themselves; they are not published again.
//
// Members also share minimization, the supervisor's largest cost (measured with
// --cpu-prof: half of a shard's supervisor thread when four shards ran on two cores, each
// minimizing the same early buckets). A member claims a bucket before minimizing it by creating DIR/.claims/<ns>/<id>
// exclusively; a member that finds the bucket claimed by a peer waits for the peer's result
// (published in its numbered files with its inputs) and adopts it after checking that it
// reproduces the bucket. A claim older than CLAIM_STALE_MS whose result never came (its
// member was killed) is taken over; a sync directory that fails lets every member minimize
// for itself. Nothing here blocks: waiting is a deferral in the member's queue.
//
// Triage is shared too: a member publishes the cause it triaged each new bucket to, and a
// member that finds a bucket a peer already triaged takes the peer's cause instead of
// triaging it again (one to twenty milliseconds a symptom, and every shard finds most of
// the same symptoms). The cause is taken as it is, checked for form and for its id (a
// hash of its kind, function and patches), not recomputed: recomputing is what it saves.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { writeFileAtomic } from '../store/fsutil.js';
import { checkEvent } from '../../models/svm/events.js';
import type { SharedInput } from './protocol.js';
import type { Stream } from '../text/text.js';
import { causeId, type Cause } from '../triage/cause.js';

const packr = new Packr({ useRecords: false });
const FILE_RE = /^(\d{8})\.msgpack$/;
const PEER_FILE = 'peer.json';
const CLAIMS = '.claims';
/** A peer's claim on a bucket this old, with no result published, is taken over. */
export const CLAIM_STALE_MS = 120_000;

/** A minimized reproducer a member publishes: the bucket (pair label and id), its signature and the stream. */
export interface SharedMinimized { pair: string; bucket: string; signature: string; stream: Stream }

/** The cause a member triaged a bucket (pair label and id, with its signature) to. */
export interface SharedTriage { pair: string; bucket: string; signature: string; cause: Cause }

/** What one exchange brought in from the peers. */
export interface Collected { inputs: SharedInput[]; minimized: SharedMinimized[]; triaged: SharedTriage[] }

/** A numbered file's body; a bare array (the first format) holds inputs only. */
interface SyncFile { inputs: SharedInput[]; minimized: SharedMinimized[]; triaged?: SharedTriage[] }

/** Who a sync directory's member is: only members of the same pair and versions are read. */
interface PeerRecord { schema: 1; pair: string; left: string; right: string }

export interface SyncStats {
  dir: string; name: string; published: number; imported: number; skipped: number; peers: number;
  /** Minimized reproducers published, adopted from peers, and buckets left to a peer that claimed them first. */
  minimizedPublished: number; minimizedAdopted: number; deferred: number;
  /** Triaged buckets published, and symptoms given a peer's cause instead of being triaged here. */
  triagePublished: number; triageAdopted: number;
  /** Exchanges done and the supervisor's milliseconds in them (publish, collect, claims' follow-up). */
  exchanges: number; exchangeMs: number;
}

export class SyncDir {
  private next: number;
  private readonly seen = new Map<string, number>();
  private readonly me: PeerRecord;
  private readonly claimDir: string;
  /** Buckets this member claimed (and has not released). */
  private readonly mine = new Set<string>();
  readonly stats: SyncStats;

  constructor(readonly dir: string, readonly name: string, pair: string, left: string, right: string) {
    this.me = { schema: 1, pair, left, right };
    const own = path.join(dir, name);
    fs.mkdirSync(own, { recursive: true });
    const mine = this.readPeer(own);
    if (mine && (mine.pair !== pair || mine.left !== left || mine.right !== right)) {
      throw new Error(`${own}: a member of the sync directory for pair ${mine.pair} (${mine.left} vs ${mine.right}); use another --sync directory or name`);
    }
    writeFileAtomic(path.join(own, PEER_FILE), `${JSON.stringify(this.me)}\n`);
    // Files this member published before (a resumed campaign): new ones number on.
    this.next = Math.max(0, ...this.files(own).map(([n]) => n + 1));
    this.stats = { dir, name, published: 0, imported: 0, skipped: 0, peers: 0, minimizedPublished: 0, minimizedAdopted: 0, deferred: 0, triagePublished: 0, triageAdopted: 0, exchanges: 0, exchangeMs: 0 };
    // Members of other pairs or versions may share the directory: their buckets are not ours.
    this.claimDir = path.join(dir, CLAIMS, createHash('sha256').update(JSON.stringify([pair, left, right])).digest('hex').slice(0, 16));
  }

  /**
   * May this member minimize the bucket? Yes when it claims it now, claimed it before (a
   * resumed member), the peer's claim is stale, or the directory fails; no when a peer's
   * live claim holds it: wait for that peer's result.
   */
  claim(bucket: string): boolean {
    if (this.mine.has(bucket)) return true;
    const file = path.join(this.claimDir, bucket);
    try {
      fs.mkdirSync(this.claimDir, { recursive: true });
      fs.writeFileSync(file, this.name, { flag: 'wx' });
      this.mine.add(bucket);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true;
    }
    try {
      const owner = fs.readFileSync(file, 'utf8');
      if (owner === this.name || Date.now() - fs.statSync(file).mtimeMs > CLAIM_STALE_MS) {
        writeFileAtomic(file, this.name);
        this.mine.add(bucket);
        return true;
      }
    } catch {
      return true;
    }
    this.stats.deferred++;
    return false;
  }

  /** Is a peer's claim on the bucket stale (or gone), so that this member should minimize it after all? */
  claimLapsed(bucket: string): boolean {
    try {
      return Date.now() - fs.statSync(path.join(this.claimDir, bucket)).mtimeMs > CLAIM_STALE_MS;
    } catch {
      return true;
    }
  }

  /** Gives up this member's claim on a bucket it did not minimize (a stop in the middle), so peers need not wait. */
  release(bucket: string): void {
    if (!this.mine.delete(bucket)) return;
    try {
      fs.unlinkSync(path.join(this.claimDir, bucket));
    } catch {
      // gone already, or the directory failed: the claim goes stale
    }
  }

  /** Buckets this member holds a claim on. */
  get claims(): ReadonlySet<string> { return this.mine; }

  private readPeer(dir: string): PeerRecord | null {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, PEER_FILE), 'utf8')) as PeerRecord;
    } catch {
      return null;
    }
  }

  /** A member's files, by number (unreadable directory: none). */
  private files(dir: string): [number, string][] {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    return names.flatMap((f): [number, string][] => {
      const m = FILE_RE.exec(f);
      return m ? [[Number(m[1]), f]] : [];
    }).sort((a, b) => a[0] - b[0]);
  }

  /** Publishes inputs, minimized reproducers and triaged buckets as one new file (nothing when there are none). */
  publish(inputs: readonly SharedInput[], minimized: readonly SharedMinimized[] = [], triaged: readonly SharedTriage[] = []): void {
    if (!inputs.length && !minimized.length && !triaged.length) return;
    const body: SyncFile = { inputs: [...inputs], minimized: [...minimized], triaged: [...triaged] };
    writeFileAtomic(path.join(this.dir, this.name, `${String(this.next++).padStart(8, '0')}.msgpack`), packr.pack(body));
    this.stats.published += inputs.length;
    this.stats.minimizedPublished += minimized.length;
    this.stats.triagePublished += triaged.length;
  }

  /** The other members' inputs, minimized reproducers and triaged buckets this member has not read yet (only valid ones, of the same pair and versions). */
  collect(): Collected {
    const got: SharedInput[] = [];
    const mins: SharedMinimized[] = [];
    const tri: SharedTriage[] = [];
    let members: string[];
    try {
      members = fs.readdirSync(this.dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== this.name).map((d) => d.name).sort();
    } catch {
      return { inputs: got, minimized: mins, triaged: tri }; // the sync directory is unreachable: try again next time
    }
    let peers = 0;
    for (const m of members) {
      const dir = path.join(this.dir, m);
      const peer = this.readPeer(dir);
      if (!peer || peer.pair !== this.me.pair || peer.left !== this.me.left || peer.right !== this.me.right) continue;
      peers++;
      const after = this.seen.get(m) ?? -1;
      for (const [n, f] of this.files(dir)) {
        if (n <= after) continue;
        this.seen.set(m, n);
        let body: unknown;
        try {
          body = packr.unpack(fs.readFileSync(path.join(dir, f)));
        } catch {
          this.stats.skipped++;
          continue;
        }
        const file: Partial<SyncFile> | null = Array.isArray(body) ? { inputs: body, minimized: [] } : (body as Partial<SyncFile> | null);
        if (!file || typeof file !== 'object' || !Array.isArray(file.inputs) || !Array.isArray(file.minimized ?? []) || !Array.isArray(file.triaged ?? [])) {
          this.stats.skipped++;
          continue;
        }
        for (const x of file.inputs as SharedInput[]) {
          if (x && typeof x === 'object' && validStream(x.stream)) got.push(x);
          else this.stats.skipped++;
        }
        for (const m of (file.minimized ?? []) as SharedMinimized[]) {
          if (m && typeof m === 'object' && typeof m.pair === 'string' && typeof m.bucket === 'string' && typeof m.signature === 'string' && validStream(m.stream)) mins.push(m);
          else this.stats.skipped++;
        }
        for (const t of (file.triaged ?? []) as SharedTriage[]) {
          if (t && typeof t === 'object' && typeof t.pair === 'string' && typeof t.bucket === 'string' && typeof t.signature === 'string' && validCause(t.cause)) tri.push(t);
          else this.stats.skipped++;
        }
      }
    }
    this.stats.peers = peers;
    this.stats.imported += got.length;
    return { inputs: got, minimized: mins, triaged: tri };
  }
}

function validStream(s: Stream | undefined): boolean {
  return !!s && typeof s === 'object' && Array.isArray(s.events) && !!s.config && typeof s.config === 'object' && s.events.every((e) => checkEvent(e) === null);
}

const strings = (x: unknown): boolean => Array.isArray(x) && x.every((v) => typeof v === 'string');

/** A cause of the form triage makes, whose id is the hash of its kind, function and patches. */
function validCause(c: Cause | undefined): boolean {
  return !!c && typeof c === 'object' && typeof c.id === 'string' && typeof c.kind === 'string' && typeof c.function === 'string'
    && strings(c.patches) && strings(c.fields) && strings(c.outOfScope) && strings(c.stack) && Array.isArray(c.values)
    && (c.verdict === 'intended' || c.verdict === 'collateral') && typeof c.declared === 'boolean' && typeof c.words === 'string'
    && typeof c.step === 'number' && (c.origin === null || (typeof c.origin === 'object' && typeof c.origin.function === 'string' && strings(c.origin.fields)))
    && c.id === causeId(c.kind, c.function, c.patches);
}
