// deploy/kubernetes: every manifest validates against the Kubernetes schemas
// (kubernetes-models, from the npm registry), and the manifests agree with the server:
// probes on /healthz and /readyz, preStop equal to SHUTDOWN_DELAY_MS, a grace period longer
// than preStop + SHUTDOWN_TIMEOUT_MS, only known variables, and a configuration that
// loadConfig accepts in production once the Secret's placeholders are real values.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../server/config.ts';

const DIR = 'deploy/kubernetes';
const MODELS: Record<string, new (doc: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1 Job': Job,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
  'v1 Service': Service,
};

// biome-ignore lint/suspicious/noExplicitAny: manifests are read as plain YAML
type Manifest = Record<string, any>;
const manifests: Manifest[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJSON() as Manifest));
const find = (kind: string) => manifests.find((m) => m.kind === kind)!;

function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion} ${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('has every kind an operator needs, each valid against the Kubernetes schemas', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        // The job queue's workers (worker-deployment.yaml).
        'Deployment',
        'HorizontalPodAutoscaler',
        'Job',
        'PodDisruptionBudget',
        'Secret',
        'Service',
      ].sort(),
    );
    for (const m of manifests) validate(m);
  });

  it('the job queue worker runs dist/worker.js with the API configuration', () => {
    const worker = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'manas360-worker')!;
    const [container] = worker.spec.template.spec.containers;
    expect(container.args).toEqual(['node', '--enable-source-maps', 'dist/worker.js']);
    expect(container.envFrom).toEqual(find('Deployment').spec.template.spec.containers[0].envFrom);
  });

  it('the validation is real: a broken Deployment is refused', () => {
    const broken = structuredClone(find('Deployment'));
    broken.spec.template.spec.containers[0].readinessProbe.periodSeconds = 'five';
    expect(() => validate(broken)).toThrow();
    delete broken.spec.selector;
    expect(() => validate(broken)).toThrow();
  });

  it('probes, preStop and grace period agree with the shutdown settings', () => {
    const config = find('ConfigMap').data as Record<string, string>;
    const pod = find('Deployment').spec.template.spec;
    const api = pod.containers[0];
    expect(api.readinessProbe.httpGet.path).toBe('/readyz');
    expect(api.livenessProbe.httpGet.path).toBe('/healthz');
    const preStopMs = api.lifecycle.preStop.sleep.seconds * 1000;
    expect(preStopMs).toBe(Number(config.SHUTDOWN_DELAY_MS));
    // Readiness must fail within SHUTDOWN_DELAY_MS for balancers that route by it.
    expect(api.readinessProbe.periodSeconds * api.readinessProbe.failureThreshold * 1000).toBeLessThanOrEqual(
      Number(config.SHUTDOWN_DELAY_MS),
    );
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      preStopMs + Number(config.SHUTDOWN_TIMEOUT_MS),
    );
    const pdb = find('PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBeLessThan(find('HorizontalPodAutoscaler').spec.minReplicas);
  });

  it('names only known variables, and the configuration starts in production with real secrets', () => {
    const data = find('ConfigMap').data as Record<string, string>;
    const secret = find('Secret').stringData as Record<string, string>;
    for (const key of [...Object.keys(data), ...Object.keys(secret)]) expect(CONFIG_VARIABLES).toContain(key);
    const real: Record<string, string> = {
      ...secret,
      JWT_PRIVATE_KEYS: 'a JWK set from npm run keys:generate',
      NOTES_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    };
    const config = loadConfig({ ...data, ...real });
    expect(config.NODE_ENV).toBe('production');
    expect(config.DATABASE_POOLER).toBe('transaction');
    expect(config.REDIS_SENTINELS).toHaveLength(3);
  });
});
