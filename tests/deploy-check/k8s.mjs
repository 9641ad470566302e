// Validates Kubernetes manifests offline, as an API server would before
// storing them, and checks that modelpool's manifests fit together.
//
//   node k8s.mjs FILE.yaml...
//
// Each document is checked against the JSON schema of its apiVersion and
// kind: the Kubernetes API's (kubernetes-models, generated from the API's
// OpenAPI document) or the Prometheus Operator's CRDs
// (@kubernetes-models/prometheus-operator: ServiceMonitor). Those schemas
// allow any extra field, as OpenAPI does; an API server with strict field
// validation (kubectl's default since 1.27) refuses them, so this does too:
// every field must be one that the schema reads. What no schema says is
// checked last, for the modelpool manifests: selectors that select, ports
// and probes that exist, the drain timing, and the HPA's metric being the
// one the Prometheus adapter serves.
//
// Prints one line per document and per check; exits 1 when any fails.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseAllDocuments } from "yaml";

let failed = 0;
const ok = (cond, what) => {
  console.log(`${cond ? "ok:  " : "FAIL:"} ${what}`);
  if (!cond) failed++;
  return cond;
};

// The module that holds the model classes of an apiVersion.
function moduleOf(apiVersion) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  }
  return `kubernetes-models/${apiVersion}`;
}

// Wraps `value` so that every property the validator reads is recorded
// (per object); an object whose keys it enumerates (a map, such as labels)
// has all its keys known. After validation, `unknownFields` lists what no
// schema looked at.
function tracked(value) {
  const records = [];
  const proxies = new WeakMap();
  const wrap = (v, path) => {
    if (v === null || typeof v !== "object") return v;
    if (proxies.has(v)) return proxies.get(v);
    const record = { path, object: v, read: new Set(), enumerated: Array.isArray(v) };
    records.push(record);
    const proxy = new Proxy(v, {
      get(target, key) {
        const child = Reflect.get(target, key);
        if (typeof key !== "string") return child;
        record.read.add(key);
        return wrap(child, Array.isArray(target) ? `${path}[${key}]` : `${path}.${key}`);
      },
      has(target, key) {
        if (typeof key === "string") record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(v, proxy);
    return proxy;
  };
  const root = wrap(value, "");
  const unknownFields = () =>
    records
      .filter((r) => !r.enumerated)
      .flatMap((r) => Object.keys(r.object).filter((k) => !r.read.has(k)).map((k) => `${r.path}.${k}`));
  return { root, unknownFields };
}

async function validate(doc) {
  const { apiVersion, kind } = doc;
  let Model;
  try {
    Model = (await import(moduleOf(apiVersion)))[kind];
  } catch {
    Model = undefined;
  }
  if (!Model) return [`no schema for ${apiVersion} ${kind}`];
  const { root, unknownFields } = tracked(doc);
  try {
    Model.prototype.validate.call(root);  // throws with every schema error
  } catch (e) {
    return [String(e.message ?? e)];
  }
  return unknownFields().map((f) => `unknown field ${f.slice(1)}`);
}

const objects = [];
for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (document.errors.length) {
      ok(false, `${basename(file)}: YAML: ${document.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const doc = document.toJS();
    if (doc === null) continue;
    const errors = await validate(doc);
    ok(errors.length === 0, `${basename(file)}: ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name}` +
                            (errors.length ? `:\n      ${errors.join("\n      ")}` : ""));
    objects.push(doc);
  }
}

// ---- How modelpool's objects fit together (skipped for objects not given).
const find = (kind) => objects.find((o) => o.kind === kind);
const deployment = find("Deployment");
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

if (deployment) {
  const pod = deployment.spec.template;
  const podLabels = pod.metadata.labels;
  const container = pod.spec.containers.find((c) => c.name === "modelpool") ?? pod.spec.containers[0];
  const portNames = new Set((container.ports ?? []).map((p) => p.name));
  const service = find("Service");
  const pdb = find("PodDisruptionBudget");
  const hpa = find("HorizontalPodAutoscaler");
  const monitor = find("ServiceMonitor");
  const config = objects.find((o) => o.kind === "ConfigMap" && o.data?.["models.toml"]);
  const adapter = objects.find((o) => o.kind === "ConfigMap" && o.data?.["config.yaml"]);

  ok(matches(deployment.spec.selector.matchLabels, podLabels), "the Deployment's selector selects its pods");
  ok(container.readinessProbe?.httpGet?.path === "/v2/health/ready" &&
     portNames.has(container.readinessProbe.httpGet.port), "readiness probe: GET /v2/health/ready on a named container port");
  ok(container.livenessProbe?.httpGet?.path === "/v2/health/live" &&
     portNames.has(container.livenessProbe.httpGet.port), "liveness probe: GET /v2/health/live on a named container port");
  if (service) {
    ok(matches(service.spec.selector, podLabels), "the Service selects the Deployment's pods");
    ok(service.spec.ports.every((p) => portNames.has(p.targetPort)), "the Service's target ports are container ports");
  }
  if (pdb) ok(matches(pdb.spec.selector.matchLabels, podLabels), "the PodDisruptionBudget selects the Deployment's pods");
  if (monitor && service) {
    ok(matches(monitor.spec.selector.matchLabels, service.metadata.labels) &&
       monitor.spec.endpoints.every((e) => service.spec.ports.some((p) => p.name === e.port) && e.path === "/metrics"),
       "the ServiceMonitor scrapes /metrics on a named port of the Service");
  }
  if (hpa) {
    ok(hpa.spec.scaleTargetRef.kind === "Deployment" && hpa.spec.scaleTargetRef.name === deployment.metadata.name,
       "the HPA scales the Deployment");
  }
  if (config) {
    // preStop sleep + drain_timeout_ms + the server's last second < the grace period.
    const drainMs = Number(/^\s*drain_timeout_ms\s*=\s*(\d+)/m.exec(config.data["models.toml"])?.[1] ?? 10000);
    const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
    const sleepS = preStop[0] === "sleep" ? Number(preStop[1]) : NaN;
    const graceS = pod.spec.terminationGracePeriodSeconds ?? 30;
    ok(config.metadata.name === pod.spec.volumes.find((v) => v.configMap)?.configMap.name,
       "the pods mount the ConfigMap with models.toml");
    ok(sleepS >= 0 && sleepS + drainMs / 1000 + 1 < graceS,
       `preStop sleep ${sleepS} s + drain_timeout_ms ${drainMs / 1000} s + 1 s < terminationGracePeriodSeconds ${graceS}`);
  }
  if (hpa && adapter) {
    // The adapter's rule names the metric the HPA asks for, from the series
    // the server exports.
    const rules = [...adapter.data["config.yaml"].matchAll(/seriesQuery:\s*'([a-z_]+)\{[^']*'[\s\S]*?as:\s*"([a-z_]+)"/g)];
    const served = new Set(rules.map((m) => m[2]));
    const asked = hpa.spec.metrics.filter((m) => m.type === "Pods").map((m) => m.pods.metric.name);
    ok(asked.length > 0 && asked.every((name) => served.has(name)),
       `the HPA's pod metrics (${asked}) are served by the adapter's rules (${[...served]})`);
    ok(rules.every((m) => m[1] === "modelpool_queue_length"),
       "the adapter's series is modelpool_queue_length, as /metrics names it");
  }
}

console.log(failed ? `${failed} check(s) failed` : "manifests: all checks passed");
process.exit(failed ? 1 : 0);
