// Cloud Run: a runtime service account reading only this environment's secrets, the public web
// service with probes and autoscaling{% if has_worker %}, an internal always-on worker service{% endif %}, and the domain mapping.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import {
  cpu, environment, healthPath, host, image, livenessPath, maxInstances, memory, minInstances, name, port, projectId, region, workerCommand,
} from "./config";
import { databaseConnectionName, secretIds } from "./data";
import { opts } from "./provider";

const runtime = new gcp.serviceaccount.Account("runtime", {
  accountId: `${name}-run`.slice(0, 30),
  displayName: `${name} runtime`,
}, opts);

const secretAccess = Object.entries(secretIds).map(([key, secretId]) =>
  new gcp.secretmanager.SecretIamMember(`runtime-${key}`, {
    secretId,
    role: "roles/secretmanager.secretAccessor",
    member: pulumi.interpolate`serviceAccount:${runtime.email}`,
  }, opts));

// The Cloud SQL client role only when the environment has a Cloud SQL instance.
const usesCloudSql = {{ 'true' if database in ('postgresql', 'mysql') else 'false' }};
if (usesCloudSql) {
  new gcp.projects.IAMMember("cloudsql", {
    project: projectId,
    role: "roles/cloudsql.client",
    member: pulumi.interpolate`serviceAccount:${runtime.email}`,
  }, opts);
}

const env = [
  { name: "APP_ENV", value: environment },
  ...Object.entries(secretIds).map(([key, secret]) => ({ name: key, valueSource: { secretKeyRef: { secret, version: "latest" } } })),
];
const limits = { cpu: `${cpu}m`, memory: `${memory}Mi` };

const web = new gcp.cloudrunv2.Service("web", {
  name: `${name}-web`,
  location: region,
  ingress: "INGRESS_TRAFFIC_ALL",
  deletionProtection: false,
  template: {
    serviceAccount: runtime.email,
    maxInstanceRequestConcurrency: 80,
{%- if graceful_shutdown %}
    timeout: "{{ [shutdown_timeout_seconds, 300] | max }}s",
{%- endif %}
    scaling: { minInstanceCount: minInstances, maxInstanceCount: maxInstances },
    containers: [{
      image,
      ports: { containerPort: port },
      resources: { limits },
      envs: env,
      startupProbe: { httpGet: { path: healthPath }, periodSeconds: 5, failureThreshold: 24 },
      livenessProbe: { httpGet: { path: livenessPath }, periodSeconds: 10 },
      volumeMounts: usesCloudSql ? [{ name: "cloudsql", mountPath: "/cloudsql" }] : [],
    }],
    volumes: usesCloudSql ? [{ name: "cloudsql", cloudSqlInstance: { instances: [databaseConnectionName] } }] : [],
  },
}, {
  ...opts,
  dependsOn: secretAccess,
  // scripts/deploy.sh rolls new revisions and shifts traffic (gcloud run deploy / update-traffic).
  ignoreChanges: ["template.containers[0].image", "traffics", "client", "clientVersion"],
});

// The web service is public; the application authenticates its own users.
new gcp.cloudrunv2.ServiceIamMember("public", {
  name: web.name,
  location: region,
  role: "roles/run.invoker",
  member: "allUsers",
}, opts);

new gcp.cloudrun.DomainMapping("web", {
  name: host,
  location: region,
  metadata: { namespace: projectId },
  spec: { routeName: web.name },
}, opts);

if (workerCommand.length > 0) {
  new gcp.cloudrunv2.Service("worker", {
    name: `${name}-worker`,
    location: region,
    ingress: "INGRESS_TRAFFIC_INTERNAL_ONLY",
    deletionProtection: false,
    template: {
      serviceAccount: runtime.email,
      scaling: { minInstanceCount: 1, maxInstanceCount: maxInstances },
      containers: [{
        image,
        commands: workerCommand,
        resources: { cpuIdle: false, limits },
        envs: env,
      }],
    },
  }, { ...opts, dependsOn: secretAccess, ignoreChanges: ["template.containers[0].image", "client", "clientVersion"] });
}

export const outputs = {
  service_name: web.name,
  service_url: web.uri,
  runtime_service_account: runtime.email,
};
