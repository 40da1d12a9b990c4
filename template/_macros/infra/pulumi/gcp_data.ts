{%- set i = infra() -%}
// The environment's state: one Secret Manager secret per secret variable (values added outside
// Pulumi), Cloud SQL with point-in-time recovery, Memorystore for Redis (terraform/modules/data).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { backupRetentionDays, databaseTier, deletionProtection, highAvailability, name, region, secretNames, withData } from "./config";
import { opts } from "./provider";

/** Secret Manager secret ids by environment variable name. */
export const secretIds: Record<string, pulumi.Output<string>> = Object.fromEntries(secretNames.map((key) => {
  const id = `${name}-${key.toLowerCase().replace(/_/g, "-")}`;
  const secret = new gcp.secretmanager.Secret(id, {
    secretId: id,
    labels: { variable: key.toLowerCase() },
    replication: { auto: {} },
  }, opts);
  return [key, secret.secretId];
}));
{%- if database in ('postgresql', 'mysql') %}
{%- set flags = {'postgresql': [('cloudsql.iam_authentication', 'on'), ('cloudsql.enable_pgaudit', 'on'), ('log_checkpoints', 'on'), ('log_connections', 'on'), ('log_disconnections', 'on'), ('log_duration', 'on'), ('log_hostname', 'on'), ('log_lock_waits', 'on'), ('log_min_error_statement', 'error'), ('log_min_messages', 'error'), ('log_statement', 'ddl'), ('log_temp_files', '0')], 'mysql': [('cloudsql_iam_authentication', 'on'), ('local_infile', 'off'), ('skip_show_database', 'on'), ('slow_query_log', 'on'), ('long_query_time', '1')]}[database] %}

function createDatabase(): pulumi.Output<string> {
  const instance = new gcp.sql.DatabaseInstance("database", {
    name,
    region,
    databaseVersion: "{{ 'POSTGRES_17' if database == 'postgresql' else 'MYSQL_8_4' }}",
    deletionProtection,
    settings: {
      tier: databaseTier,
      edition: "ENTERPRISE",
      availabilityType: highAvailability ? "REGIONAL" : "ZONAL",
      diskAutoresize: true,
      diskType: "PD_SSD",
      backupConfiguration: {
        enabled: true,
        startTime: "02:00",
{%- if database == 'postgresql' %}
        pointInTimeRecoveryEnabled: true,
{%- else %}
        binaryLogEnabled: true,
{%- endif %}
        transactionLogRetentionDays: Math.min(backupRetentionDays, 7),
        backupRetentionSettings: { retainedBackups: backupRetentionDays, retentionUnit: "COUNT" },
      },
      // Reached through the Cloud SQL connector (IAM-authenticated, encrypted); no network is authorised.
      ipConfiguration: { ipv4Enabled: true, sslMode: "TRUSTED_CLIENT_CERTIFICATE_REQUIRED" },
      databaseFlags: [
{%- for flag, value in flags %}
        { name: "{{ flag }}", value: "{{ value }}" },
{%- endfor %}
      ],
      insightsConfig: { queryInsightsEnabled: true },
    },
  }, opts);

  new gcp.sql.Database("database", { name: name.replace(/-/g, "_"), instance: instance.name }, opts);
  return instance.connectionName;
}

/** Cloud SQL instance connection name ("" without Cloud SQL). */
export const databaseConnectionName: pulumi.Output<string> = withData ? createDatabase() : pulumi.output("");
{%- else %}

/** Cloud SQL instance connection name ("" without Cloud SQL{% if database == 'mongodb' %}: MongoDB runs outside Google Cloud, its URI is a secret{% endif %}). */
export const databaseConnectionName: pulumi.Output<string> = pulumi.output("");
{%- endif %}
{%- if cache == 'redis' %}

function createCache(): pulumi.Output<string> {
  return new gcp.redis.Instance("cache", {
    name,
    region,
    tier: highAvailability ? "STANDARD_HA" : "BASIC",
    memorySizeGb: highAvailability ? 5 : 1,
    redisVersion: "REDIS_7_2",
    authEnabled: true,
    transitEncryptionMode: "SERVER_AUTHENTICATION",
  }, opts).host;
}

/** Memorystore host ("" without a cache). */
export const cacheHost: pulumi.Output<string> = withData ? createCache() : pulumi.output("");
{%- else %}

export const cacheHost: pulumi.Output<string> = pulumi.output("");
{%- endif %}

export const outputs = {
  secret_ids: secretIds,
  database_connection_name: databaseConnectionName,
  cache_host: cacheHost,
};
