// The engine files in deploy/ hold together: the Kubernetes manifests validate against
// the Kubernetes API's own schemas (kubernetes-models, generated from the API's OpenAPI
// definitions) and are Jobs of the kinds and fields the README's commands need,
// agree with each other (one volume, one image, the shard count equal to the Job's
// completions), and every fuzz, merge and report option they pass is one the CLI has.
// The Slurm scripts run for real in slurm.test.ts.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { root, run } from '../testing/cli.js';

const k8s = (f: string) => JSON.parse(readFileSync(join(root, 'deploy/kubernetes', f), 'utf8'));
type Container = { name: string; image: string; command: string[]; resources: { requests: Record<string, string> }; volumeMounts: { name: string; mountPath: string }[] };
type JobSpec = { apiVersion: string; kind: string; metadata: { name: string }; spec: { completionMode?: string; completions: number; parallelism?: number; backoffLimit: number; template: { spec: { restartPolicy: string; containers: Container[]; volumes: { name: string; persistentVolumeClaim: { claimName: string } }[] } } } };

/** The options a shell command passes to one svmfuzz subcommand. */
const optionsOf = (cmd: string, sub: string): string[] => {
  const m = new RegExp(`cli\\.js ${sub} ([^;&]*)`).exec(cmd);
  return m ? [...m[1]!.matchAll(/(--[a-z-]+)/g)].map((x) => x[1]!) : [];
};

function checkJob(j: JobSpec, name: string): Container {
  expect(j.apiVersion, name).toBe('batch/v1');
  expect(j.kind, name).toBe('Job');
  expect(j.metadata.name, name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  expect(Number.isInteger(j.spec.completions) && j.spec.completions > 0, name).toBe(true);
  expect(Number.isInteger(j.spec.backoffLimit), name).toBe(true);
  expect(['OnFailure', 'Never'], name).toContain(j.spec.template.spec.restartPolicy);
  const [c, ...rest] = j.spec.template.spec.containers;
  expect(rest, name).toEqual([]);
  expect(c!.command.length, name).toBeGreaterThan(0);
  for (const vm of c!.volumeMounts) expect(j.spec.template.spec.volumes.map((v) => v.name), name).toContain(vm.name);
  return c!;
}

describe('deploy/kubernetes', () => {
  const pvc = k8s('svmfuzz-volume.json');
  const shards = k8s('svmfuzz-indexed-job.json') as JobSpec;
  const merge = k8s('svmfuzz-merge-job.json') as JobSpec;

  it('each manifest validates against the Kubernetes API schema of its kind, and a broken one does not', () => {
    expect(() => new PersistentVolumeClaim(pvc).validate()).not.toThrow();
    expect(() => new Job(shards as never).validate()).not.toThrow();
    expect(() => new Job(merge as never).validate()).not.toThrow();
    // The validator does reject what the API server would: a wrong type, an unknown enum value, a missing name.
    const broken = (edit: (j: JobSpec) => void): JobSpec => {
      const j = structuredClone(shards);
      edit(j);
      return j;
    };
    expect(() => new Job(broken((j) => { (j.spec as { completions: unknown }).completions = '8'; }) as never).validate()).toThrow(/completions must be integer/);
    expect(() => new Job(broken((j) => { j.spec.completionMode = 'Sideways'; }) as never).validate()).toThrow(/completionMode/);
    expect(() => new Job(broken((j) => { delete (j.spec.template.spec.containers[0] as Partial<Container>).name; }) as never).validate()).toThrow(/containers\/0 must have required property '?name/);
  });

  it('a ReadWriteMany volume, an Indexed Job of shards and a merge Job on it, with one image', () => {
    expect(pvc).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', spec: { accessModes: ['ReadWriteMany'] } });
    expect(pvc.spec.resources.requests.storage).toMatch(/^\d+(Gi|Mi|Ti)$/);
    const s = checkJob(shards, 'shards');
    const m = checkJob(merge, 'merge');
    expect(shards.spec.completionMode).toBe('Indexed');
    for (const j of [shards, merge]) expect(j.spec.template.spec.volumes[0]!.persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    expect(m.image).toBe(s.image);
    const cmd = s.command.join(' ');
    // The shard count is the Job's completions; each pod's directory is the one fuzz writes.
    expect(cmd).toContain(`--shard-count ${shards.spec.completions}`);
    expect(cmd).toContain(`shard-\${JOB_COMPLETION_INDEX}-of-${shards.spec.completions}`);
    expect(cmd).toMatch(/--sync \/campaign\/sync/);
    expect(m.command.join(' ')).toContain('merge /campaign/merged /campaign/shard-*');
  });

  it('every option the manifests pass is one the CLI has', () => {
    const uses: [string, string[]][] = [
      ['fuzz', optionsOf(shards.spec.template.spec.containers[0]!.command.join(' '), 'fuzz')],
      ['merge', optionsOf(merge.spec.template.spec.containers[0]!.command.join(' '), 'merge')],
    ];
    for (const [sub, opts] of uses) {
      const help = run(sub, '--help').out;
      for (const o of opts) expect(help, `${sub} ${o}`).toContain(o);
    }
    expect(uses[0]![1]).toEqual(expect.arrayContaining(['--seed', '--shard-count', '--out', '--sync']));
  });

  it('the Dockerfile copies what the build compiles', () => {
    const df = readFileSync(join(root, 'deploy/kubernetes/Dockerfile'), 'utf8');
    const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] };
    for (const top of new Set(tsconfig.include.map((g) => g.split('/')[0]!))) expect(df, top).toMatch(new RegExp(`^COPY ${top} ${top}$`, 'm'));
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.cjs.json']) {
      expect(df).toContain(f);
      expect(existsSync(join(root, f)), f).toBe(true);
    }
  });
});
