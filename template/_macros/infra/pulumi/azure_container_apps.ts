// Azure Container Apps: a managed environment with Log Analytics, a user-assigned identity that
// reads this environment's Key Vault secrets, the web app (multiple revisions for traffic
// splitting) with probes and CPU autoscaling{% if has_worker %}, and the worker app without ingress{% endif %}.
import * as app from "@pulumi/azure-native/app";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as pulumi from "@pulumi/pulumi";
import { grant, logAnalytics, resourceGroupName } from "./azure";
import {
  cpu, cpuTarget, environment, healthPath, image, livenessPath, location, maxInstances, memory, minInstances, name, port, workerCommand,
} from "./config";
import { keyVaultSecretNames, vault } from "./data";
import { opts } from "./provider";

const workspace = logAnalytics();
// Reading the workspace's shared key is a POST (workspaces/sharedKeys/action) that the read-only identity of the
// pull-request plans (`pulumi preview`) does not hold: only a deployment fetches it. The environment keeps the key it was
// created with (ignoreChanges), so a preview shows no change; after regenerating the workspace's keys, drop the
// ignoreChanges for one `pulumi up`.
const sharedKey = pulumi.runtime.isDryRun()
  ? pulumi.output("")
  : operationalinsights.getSharedKeysOutput({ resourceGroupName, workspaceName: workspace.name }, opts)
    .apply((keys) => keys.primarySharedKey ?? "");

const managedEnvironment = new app.ManagedEnvironment("environment", {
  environmentName: name,
  resourceGroupName,
  location,
  appLogsConfiguration: {
    destination: "log-analytics",
    logAnalyticsConfiguration: { customerId: workspace.customerId, sharedKey: pulumi.secret(sharedKey) },
  },
}, { ...opts, ignoreChanges: ["appLogsConfiguration.logAnalyticsConfiguration.sharedKey"] });

const identity = new managedidentity.UserAssignedIdentity("app", {
  resourceName: `${name}-app`,
  resourceGroupName,
  location,
}, opts);

const secretsAccess = grant("secrets", vault.id, "keyVaultSecretsUser", identity.principalId);

const vaultUri = vault.properties.apply((properties) => properties.vaultUri ?? "");
/** Key Vault references: the platform resolves them with the app's identity; no value is stored here. */
const secrets = Object.values(keyVaultSecretNames).map((secretName) => ({
  name: secretName.slice(environment.length + 1),
  keyVaultUrl: pulumi.interpolate`${vaultUri}secrets/${secretName}`,
  identity: identity.id,
}));
const env = [
  { name: "APP_ENV", value: environment },
  ...Object.entries(keyVaultSecretNames).map(([key, secretName]) => ({ name: key, secretRef: secretName.slice(environment.length + 1) })),
];
const resources = { cpu: cpu / 1000, memory: `${memory / 1024}Gi` };
const userIdentity = { type: "UserAssigned", userAssignedIdentities: [identity.id] };

const web = new app.ContainerApp("web", {
  containerAppName: `${name}-web`,
  resourceGroupName,
  location,
  managedEnvironmentId: managedEnvironment.id,
  identity: userIdentity,
  configuration: {
    activeRevisionsMode: "Multiple",
    secrets,
    ingress: {
      external: true,
      targetPort: port,
      transport: "auto",
      traffic: [{ latestRevision: true, weight: 100 }],
    },
  },
  template: {
    scale: {
      minReplicas: minInstances,
      maxReplicas: maxInstances,
      rules: [{ name: "cpu", custom: { type: "cpu", metadata: { type: "Utilization", value: String(cpuTarget) } } }],
    },
    containers: [{
      name: "web",
      image,
      resources,
      env,
      probes: [
        { type: "Readiness", httpGet: { port, path: healthPath } },
        { type: "Liveness", httpGet: { port, path: livenessPath } },
      ],
    }],
  },
}, {
  ...opts,
  dependsOn: [secretsAccess],
  // scripts/deploy.sh creates revisions and moves traffic (az containerapp update / ingress traffic set).
  ignoreChanges: ["template.containers[0].image", "configuration.ingress.traffic", "template.revisionSuffix"],
});

if (workerCommand.length > 0) {
  new app.ContainerApp("worker", {
    containerAppName: `${name}-worker`,
    resourceGroupName,
    location,
    managedEnvironmentId: managedEnvironment.id,
    identity: userIdentity,
    configuration: { activeRevisionsMode: "Single", secrets },
    template: {
      scale: { minReplicas: 1, maxReplicas: maxInstances },
      containers: [{ name: "worker", image, command: workerCommand, resources, env }],
    },
  }, { ...opts, dependsOn: [secretsAccess], ignoreChanges: ["template.containers[0].image"] });
}

export const outputs = {
  app_name: web.name,
  default_fqdn: web.configuration.apply((configuration) => configuration?.ingress?.fqdn ?? ""),
  identity_client_id: identity.clientId,
};
