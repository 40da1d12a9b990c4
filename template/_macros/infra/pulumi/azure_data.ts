{%- set i = infra() -%}
// The environment's state: Key Vault (secrets are added outside Pulumi), the database with
// Entra ID authentication and automated backups, and the cache (terraform/modules/data).
{%- if database == 'postgresql' %}
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
{%- elif database == 'mysql' %}
import * as dbformysql from "@pulumi/azure-native/dbformysql";
{%- elif database == 'mongodb' %}
import * as cosmosdb from "@pulumi/azure-native/cosmosdb";
{%- endif %}
import * as keyvault from "@pulumi/azure-native/keyvault";
{%- if cache == 'redis' %}
import * as redis from "@pulumi/azure-native/redis";
{%- endif %}
import * as pulumi from "@pulumi/pulumi";
import { client, resourceGroupName } from "./azure";
import { backupRetentionDays, databaseSku, environment, highAvailability, location, name, preview, secretNames, withData } from "./config";
import { opts } from "./provider";

/** Key Vault names are global and 3-24 characters: production, the initial of other environments, or the pull request. */
const vaultName = preview
  ? `{{ i.slug[:12].rstrip('-') }}-kv-${environment}`
  : `{{ i.slug[:20] }}-kv${environment === "production" ? "" : `-${environment.slice(0, 1)}`}`;

export const vault = new keyvault.Vault("secrets", {
  vaultName,
  resourceGroupName,
  location,
  properties: {
    tenantId: client.tenantId,
    sku: { family: "A", name: "standard" },
    enableRbacAuthorization: true,
    // No purge protection for a preview's vault (it can be purged after its stack is destroyed); environments keep 90 days.
    enablePurgeProtection: preview ? undefined : true,
    softDeleteRetentionInDays: preview ? 7 : 90,
    networkAcls: { bypass: "AzureServices", defaultAction: "Allow" },
  },
}, opts);

/** Key Vault secret names the application expects, by variable (values are set with az keyvault secret set). */
export const keyVaultSecretNames: Record<string, string> = Object.fromEntries(
  secretNames.map((key) => [key, `${environment}-${key.toLowerCase().replace(/_/g, "-")}`]),
);
{%- if database in ('postgresql', 'mysql') %}

/** databaseSku "<tier>_<name>" (B_Standard_B1ms, GP_Standard_D2ds_v5) as the flexible server's SKU. */
function sku(): { name: string; tier: string } {
  const [prefix, ...rest] = databaseSku.split("_");
  const tiers: Record<string, string> = { B: "Burstable", GP: "GeneralPurpose", MO: "MemoryOptimized" };
  return { name: rest.join("_"), tier: tiers[prefix] };
}
{%- endif %}
{%- if database == 'postgresql' %}

function createDatabase(): pulumi.Output<string> {
  const server = new dbforpostgresql.Server("database", {
    serverName: name,
    resourceGroupName,
    location,
    version: "16",
    sku: sku(),
    storage: { storageSizeGB: 32, autoGrow: "Enabled" },
    backup: {
      backupRetentionDays: Math.min(Math.max(backupRetentionDays, 7), 35),
      geoRedundantBackup: highAvailability ? "Enabled" : "Disabled",
    },
    network: { publicNetworkAccess: "Enabled" },
    authConfig: { activeDirectoryAuth: "Enabled", passwordAuth: "Disabled", tenantId: client.tenantId },
    highAvailability: { mode: highAvailability ? "ZoneRedundant" : "Disabled" },
  }, { ...opts, ignoreChanges: ["availabilityZone", "highAvailability.standbyAvailabilityZone"] });

  new dbforpostgresql.Database("database", {
    databaseName: "{{ i.db_name }}",
    serverName: server.name,
    resourceGroupName,
    charset: "UTF8",
    collation: "en_US.utf8",
  }, opts);

  new dbforpostgresql.Configuration("log-connections", {
    configurationName: "log_connections",
    serverName: server.name,
    resourceGroupName,
    value: "on",
    source: "user-override",
  }, opts);

  // Only Azure services (the Container Apps environment) reach the server; no other network is allowed.
  new dbforpostgresql.FirewallRule("azure-services", {
    firewallRuleName: "azure-services",
    serverName: server.name,
    resourceGroupName,
    startIpAddress: "0.0.0.0",
    endIpAddress: "0.0.0.0",
  }, opts);
  return server.fullyQualifiedDomainName.apply((host) => host ?? "");
}
{%- elif database == 'mysql' %}

function createDatabase(): pulumi.Output<string> {
  const server = new dbformysql.Server("database", {
    serverName: name,
    resourceGroupName,
    location,
    version: "8.0.21",
    sku: sku(),
    storage: { storageSizeGB: 32, autoGrow: "Enabled" },
    backup: {
      backupRetentionDays: Math.min(Math.max(backupRetentionDays, 1), 35),
      geoRedundantBackup: highAvailability ? "Enabled" : "Disabled",
    },
    highAvailability: { mode: highAvailability ? "ZoneRedundant" : "Disabled" },
  }, { ...opts, ignoreChanges: ["availabilityZone", "highAvailability.standbyAvailabilityZone"] });

  new dbformysql.Database("database", {
    databaseName: "{{ i.db_name }}",
    serverName: server.name,
    resourceGroupName,
    charset: "utf8mb4",
    collation: "utf8mb4_unicode_ci",
  }, opts);

  new dbformysql.Configuration("secure-transport", {
    configurationName: "require_secure_transport",
    serverName: server.name,
    resourceGroupName,
    value: "ON",
    source: "user-override",
  }, opts);
  return server.fullyQualifiedDomainName.apply((host) => host ?? "");
}
{%- elif database == 'mongodb' %}

// MongoDB API: Azure Cosmos DB, continuous backup (point-in-time restore).
function createDatabase(): pulumi.Output<string> {
  const account = new cosmosdb.DatabaseAccount("database", {
    accountName: name,
    resourceGroupName,
    location,
    databaseAccountOfferType: "Standard",
    kind: "MongoDB",
    apiProperties: { serverVersion: "7.0" },
    disableLocalAuth: true,
    disableKeyBasedMetadataWriteAccess: true,
    publicNetworkAccess: "Enabled",
    enableAutomaticFailover: highAvailability,
    consistencyPolicy: { defaultConsistencyLevel: "Session" },
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: highAvailability }],
    backupPolicy: { type: "Continuous", continuousModeProperties: { tier: backupRetentionDays > 7 ? "Continuous30Days" : "Continuous7Days" } },
    capabilities: [{ name: "EnableMongo" }],
  }, opts);

  new cosmosdb.MongoDBResourceMongoDBDatabase("database", {
    databaseName: "{{ i.db_name }}",
    accountName: account.name,
    resourceGroupName,
    resource: { id: "{{ i.db_name }}" },
  }, opts);
  return account.documentEndpoint;
}
{%- endif %}
{%- if database != 'none' %}

/** Database host ("" without a database). */
export const databaseHost: pulumi.Output<string> = withData ? createDatabase() : pulumi.output("");
{%- else %}

export const databaseHost: pulumi.Output<string> = pulumi.output("");
{%- endif %}
{%- if cache == 'redis' %}

function createCache(): pulumi.Output<string> {
  return new redis.Redis("cache", {
    name,
    resourceGroupName,
    location,
    sku: { capacity: highAvailability ? 1 : 0, family: "C", name: highAvailability ? "Standard" : "Basic" },
    minimumTlsVersion: "1.2",
    enableNonSslPort: false,
    publicNetworkAccess: "Enabled",
    redisVersion: "6",
  }, opts).hostName;
}

/** Redis host ("" without a cache). */
export const cacheHost: pulumi.Output<string> = withData ? createCache() : pulumi.output("");
{%- else %}

export const cacheHost: pulumi.Output<string> = pulumi.output("");
{%- endif %}

export const outputs = {
  key_vault_id: vault.id,
  key_vault_uri: vault.properties.apply((properties) => properties.vaultUri ?? ""),
  secret_names: keyVaultSecretNames,
  database_host: databaseHost,
  cache_host: cacheHost,
};
