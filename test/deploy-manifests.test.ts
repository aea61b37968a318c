// deploy/kubernetes: every manifest validates against the Kubernetes schemas
// (kubernetes-models, from the npm registry), and the manifests agree with the server:
// probes on /healthz and /readyz, preStop equal to SHUTDOWN_DELAY_MS, a grace period longer
// than preStop + SHUTDOWN_TIMEOUT_MS, only known variables, and a configuration that
// loadConfig accepts in production once the Secret's placeholders are real values; every pod
// passes the Pod Security "restricted" profile, no image is :latest, the HPA alone sets the
// API's replica count and the API pods spread over nodes.
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

/** The pod templates of the workload manifests (Deployment, Job). */
const podSpecs = () =>
  manifests
    .filter((m) => m.spec?.template?.spec)
    .map((m) => ({ name: `${m.kind} ${m.metadata.name}`, pod: m.spec.template.spec }));

const RESTRICTED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];
/**
 * What the Pod Security Standards' "restricted" profile (with the baseline it includes)
 * refuses in a pod spec, as the admission controller words its checks
 * (kubernetes.io/docs/concepts/security/pod-security-standards).
 */
function podSecurityViolations(pod: Manifest): string[] {
  const out: string[] = [];
  const containers: Manifest[] = [
    ...(pod.initContainers ?? []),
    ...pod.containers,
    ...(pod.ephemeralContainers ?? []),
  ];
  const psc = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push('host namespaces');
  for (const v of pod.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !RESTRICTED_VOLUMES.includes(type)) out.push(`volume type ${type}`);
  }
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const at = `container ${c.name}`;
    if (sc.privileged) out.push(`${at}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${at}: allowPrivilegeEscalation != false`);
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) out.push(`${at}: runAsNonRoot != true`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) out.push(`${at}: runAsUser=0`);
    const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${at}: seccompProfile`);
    const caps = sc.capabilities ?? {};
    if (!(caps.drop ?? []).includes('ALL')) out.push(`${at}: capabilities.drop does not include ALL`);
    for (const add of caps.add ?? [])
      if (add !== 'NET_BIND_SERVICE') out.push(`${at}: capability ${add} added`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${at}: hostPort`);
  }
  return out;
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('every pod meets the Pod Security "restricted" profile', () => {
    const pods = podSpecs();
    expect(pods.map((p) => p.name).sort()).toEqual([
      'Deployment manas360-api',
      'Deployment manas360-worker',
      'Job manas360-migrate',
    ]);
    for (const { name, pod } of pods) expect([name, podSecurityViolations(pod)]).toEqual([name, []]);
  });

  it('the restricted check is real: each weakening is named', () => {
    const pod = structuredClone(find('Deployment').spec.template.spec);
    delete pod.securityContext.seccompProfile;
    pod.containers[0].securityContext.capabilities = { drop: ['NET_RAW'], add: ['SYS_ADMIN'] };
    pod.containers[0].securityContext.allowPrivilegeEscalation = true;
    pod.volumes = [{ name: 'h', hostPath: { path: '/' } }];
    expect(podSecurityViolations(pod)).toEqual([
      'volume type hostPath',
      'container api: allowPrivilegeEscalation != false',
      'container api: seccompProfile',
      'container api: capabilities.drop does not include ALL',
      'container api: capability SYS_ADMIN added',
    ]);
  });

  it('names a release tag for every image, never :latest', () => {
    for (const { pod } of podSpecs())
      for (const c of pod.containers)
        expect(c.image).toMatch(/^[\w./-]+(:(?!latest$)[\w.-]+|@sha256:[0-9a-f]{64})$/);
  });

  it('leaves the replica count of a Deployment an HPA scales to the HPA', () => {
    const hpa = find('HorizontalPodAutoscaler');
    const target = manifests.find(
      (m) => m.kind === hpa.spec.scaleTargetRef.kind && m.metadata.name === hpa.spec.scaleTargetRef.name,
    )!;
    expect(target).toBeDefined();
    expect(target.spec).not.toHaveProperty('replicas');
  });

  it('spreads the API pods over nodes (at most one more on any node than on another)', () => {
    const api = find('Deployment');
    const spread = api.spec.template.spec.topologySpreadConstraints as Manifest[];
    expect(spread).toContainEqual({
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'DoNotSchedule',
      labelSelector: { matchLabels: api.spec.selector.matchLabels },
    });
  });

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
        // The migrator's direct connection (secret.yaml, second document).
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

  it('migrates directly, not through PgBouncer (the session defaults reach every pooled server connection)', () => {
    const job = find('Job') as unknown as {
      spec: {
        template: { spec: { containers: Array<{ env: Array<{ name: string; valueFrom: unknown }> }> } };
      };
    };
    const env = job.spec.template.spec.containers[0]!.env;
    expect(env.map((e) => e.name)).toEqual(['DATABASE_URL']); // no DATABASE_POOLER: a direct connection
    expect(env[0]!.valueFrom).toEqual({ secretKeyRef: { name: 'manas360-migrate', key: 'DATABASE_URL' } });
    const migrate = manifests.find(
      (m) => m.kind === 'Secret' && m.metadata?.name === 'manas360-migrate',
    ) as unknown as {
      stringData: { DATABASE_URL: string };
    };
    const api = find('Secret').stringData as Record<string, string>;
    expect(new URL(migrate.stringData.DATABASE_URL).host).not.toBe(new URL(api.DATABASE_URL!).host);
    expect(new URL(migrate.stringData.DATABASE_URL).port).toBe('5432');
  });
});
