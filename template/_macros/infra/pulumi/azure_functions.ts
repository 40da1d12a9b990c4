{%- set i = infra() -%}
{%- set worker = catalog.fact('app_language', app_language, 'functions_runtime') -%}
{%- set version = catalog.fact('app_language', app_language, 'functions_version') -%}
{%- set stack = ((({'node': 'Node', 'python': 'Python', 'java': 'Java', 'dotnet-isolated': 'DOTNET-ISOLATED'}.get(worker, '') ~ '|' ~ version) if worker not in ('custom', '') else ''), worker) -%}
// Azure Functions (Linux, Premium plan for always-ready instances): storage reached with the managed
// identity, Application Insights, Key Vault references for secrets, a staging slot, the custom domain.
import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as storage from "@pulumi/azure-native/storage";
import * as web from "@pulumi/azure-native/web";
import * as pulumi from "@pulumi/pulumi";
import { grant, logAnalytics, resourceGroupName } from "./azure";
import { environment, healthPath, host, location, maxInstances, minInstances, name } from "./config";
import { keyVaultSecretNames, vault } from "./data";
import { opts } from "./provider";

const account = new storage.StorageAccount("functions", {
  accountName: `${name}fn`.replace(/-/g, "").slice(0, 24),
  resourceGroupName,
  location,
  kind: "StorageV2",
  sku: { name: "Standard_ZRS" },
  minimumTlsVersion: "TLS1_2",
  allowBlobPublicAccess: false,
  allowSharedKeyAccess: false,
  enableHttpsTrafficOnly: true,
}, opts);

new storage.BlobServiceProperties("functions", {
  accountName: account.name,
  resourceGroupName,
  blobServicesName: "default",
  deleteRetentionPolicy: { enabled: true, days: 7 },
}, opts);

const workspace = logAnalytics();

const insights = new applicationinsights.Component("functions", {
  resourceName: name,
  resourceGroupName,
  location,
  kind: "web",
  applicationType: "web",
  workspaceResourceId: workspace.id,
  ingestionMode: "LogAnalytics",
}, opts);

const plan = new web.AppServicePlan("functions", {
  name,
  resourceGroupName,
  location,
  kind: "elastic",
  reserved: true,
  sku: { name: "EP1", tier: "ElasticPremium" },
  maximumElasticWorkerCount: maxInstances,
  zoneRedundant: false,
}, opts);

const identity = new managedidentity.UserAssignedIdentity("app", {
  resourceName: `${name}-app`,
  resourceGroupName,
  location,
}, opts);

const secretsAccess = grant("secrets", vault.id, "keyVaultSecretsUser", identity.principalId);
const storageAccess = grant("storage", account.id, "storageBlobDataOwner", identity.principalId);

const vaultUri = vault.properties.apply((properties) => properties.vaultUri ?? "");
/** Host settings, then Key Vault references: the platform resolves them with the app's identity; no value is stored here. */
const appSettings = [
  { name: "APP_ENV", value: environment },
  { name: "FUNCTIONS_EXTENSION_VERSION", value: "~4" },
  { name: "FUNCTIONS_WORKER_RUNTIME", value: "{{ stack[1] }}" },
  // scripts/deploy.sh publishes a zip package to the staging slot (run from package) and swaps it in.
  { name: "WEBSITE_RUN_FROM_PACKAGE", value: "1" },
  { name: "AzureWebJobsStorage__accountName", value: account.name },
  { name: "AzureWebJobsStorage__credential", value: "managedidentity" },
  { name: "AzureWebJobsStorage__clientId", value: identity.clientId },
  { name: "APPLICATIONINSIGHTS_CONNECTION_STRING", value: insights.connectionString },
  ...Object.entries(keyVaultSecretNames).map(([key, secretName]) => ({
    name: key,
    value: pulumi.interpolate`@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${secretName})`,
  })),
];
const userIdentity = { type: web.ManagedServiceIdentityType.UserAssigned, userAssignedIdentities: [identity.id] };
const siteConfig = {
  linuxFxVersion: "{{ stack[0] }}",
  minTlsVersion: "1.2",
  http20Enabled: true,
  ftpsState: "Disabled",
  healthCheckPath: healthPath,
  appSettings,
};

const functionApp = new web.WebApp("functions", {
  name,
  resourceGroupName,
  location,
  kind: "functionapp,linux",
  serverFarmId: plan.id,
  httpsOnly: true,
  publicNetworkAccess: "Enabled",
  identity: userIdentity,
  keyVaultReferenceIdentity: identity.id,
  siteConfig: {
    ...siteConfig,
    minimumElasticInstanceCount: minInstances,
    functionAppScaleLimit: maxInstances,
  },
}, { ...opts, dependsOn: [secretsAccess, storageAccess] });

new web.WebAppSlot("staging", {
  name: functionApp.name,
  slot: "staging",
  resourceGroupName,
  location,
  kind: "functionapp,linux",
  serverFarmId: plan.id,
  httpsOnly: true,
  publicNetworkAccess: "Enabled",
  identity: userIdentity,
  keyVaultReferenceIdentity: identity.id,
  siteConfig,
}, opts);

new web.WebAppHostNameBinding("host", {
  name: functionApp.name,
  hostName: host,
  resourceGroupName,
}, opts);

export const outputs = {
  function_app_name: functionApp.name,
  default_hostname: functionApp.defaultHostName,
};
