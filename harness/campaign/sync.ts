// Corpus exchange between running campaigns through a shared directory (`fuzz --sync DIR`:
// NFS, a Kubernetes ReadWriteMany volume, a mounted bucket), in the manner of AFL++'s sync
// directory. Each campaign owns DIR/<name>/: it publishes the inputs its lanes found
// interesting as numbered, immutable files written atomically (a reader never sees half a
// file), and reads the files of every other campaign of the same pair and versions that it
// has not read yet. Nothing waits for a peer: a slow, vanished or unreadable one is
// skipped and tried again at the next exchange. Imported inputs go to every lane like the
// inputs lanes share among themselves; they are not published again.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { writeFileAtomic } from '../store/fsutil.js';
import { checkEvent } from '../../models/svm/events.js';
import type { SharedInput } from './protocol.js';

const packr = new Packr({ useRecords: false });
const FILE_RE = /^(\d{8})\.msgpack$/;
const PEER_FILE = 'peer.json';

/** Who a sync directory's member is: only members of the same pair and versions are read. */
interface PeerRecord { schema: 1; pair: string; left: string; right: string }

export interface SyncStats { dir: string; name: string; published: number; imported: number; skipped: number; peers: number }

export class SyncDir {
  private next: number;
  private readonly seen = new Map<string, number>();
  private readonly me: PeerRecord;
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
    this.stats = { dir, name, published: 0, imported: 0, skipped: 0, peers: 0 };
  }

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

  /** Publishes the inputs (nothing when there are none). */
  publish(inputs: readonly SharedInput[]): void {
    if (!inputs.length) return;
    writeFileAtomic(path.join(this.dir, this.name, `${String(this.next++).padStart(8, '0')}.msgpack`), packr.pack(inputs));
    this.stats.published += inputs.length;
  }

  /** The other members' inputs this member has not read yet (only valid streams of the same pair and versions). */
  collect(): SharedInput[] {
    const got: SharedInput[] = [];
    let members: string[];
    try {
      members = fs.readdirSync(this.dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== this.name).map((d) => d.name).sort();
    } catch {
      return got; // the sync directory is unreachable: try again next time
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
        let inputs: unknown;
        try {
          inputs = packr.unpack(fs.readFileSync(path.join(dir, f)));
        } catch {
          this.stats.skipped++;
          continue;
        }
        if (!Array.isArray(inputs)) {
          this.stats.skipped++;
          continue;
        }
        for (const x of inputs as SharedInput[]) {
          const ok = x && typeof x === 'object' && x.stream && Array.isArray(x.stream.events) && x.stream.config && typeof x.stream.config === 'object'
            && x.stream.events.every((e) => checkEvent(e) === null);
          if (ok) got.push(x);
          else this.stats.skipped++;
        }
      }
    }
    this.stats.peers = peers;
    this.stats.imported += got.length;
    return got;
  }
}
