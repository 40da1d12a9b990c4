{%- set i = infra() -%}
// The environment's state: a KMS key, the application's secret, and the database and cache it chose
// (terraform/modules/data).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { accountRootPolicy, assumeRole, identity, regionName } from "./aws";
import { backupRetentionDays, cacheNodeType, databaseInstanceClass, deletionProtection, environment, highAvailability, name, preview, project, withData } from "./config";
import { privateSubnetCidrs, privateSubnetIds, vpc } from "./network";
import { opts } from "./provider";

export const kmsKey = new aws.kms.Key("data", {
  description: `${name} secrets and data`,
  enableKeyRotation: true,
  policy: pulumi.all([identity.accountId, regionName]).apply(([accountId, region]) => JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      accountRootPolicy(accountId),
      {
        // The environment's log groups (application, load balancer firewall, API) are encrypted with this key.
        Sid: "CloudWatchLogsEncrypt",
        Effect: "Allow",
        Principal: { Service: `logs.${region}.amazonaws.com` },
        Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        Resource: "*",
        Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${region}:${accountId}:log-group:*` } },
      },
    ],
  })),
}, opts);

// Values are set outside Pulumi (aws secretsmanager put-secret-value): never in state or git.
export const secret = new aws.secretsmanager.Secret("app", {
  name: `${project}/${environment}`,
  description: `Secret environment variables of ${name}`,
  kmsKeyId: kmsKey.arn,
  recoveryWindowInDays: preview ? 0 : 30,
}, opts);
{%- set ports = {'postgresql': 5432, 'mysql': 3306, 'mongodb': 27017} %}
{%- set data_ports = ([ports[database]] if database != 'none' else []) + ([6379] if cache == 'redis' else []) %}

const dataGroup = new aws.ec2.SecurityGroup("data", {
  name: `${name}-data`,
  description: `Database and cache of ${name}: reachable from the private subnets only`,
  vpcId: vpc.id,
  ingress: {{ to_json(data_ports) }}.map((port) => ({
    description: "Clients in the private subnets",
    fromPort: port,
    toPort: port,
    protocol: "tcp",
    cidrBlocks: privateSubnetCidrs,
  })),
}, opts);
{%- if database in ('postgresql', 'mysql') %}
{%- set pg = database == 'postgresql' %}

interface Database {
  endpoint: pulumi.Output<string>;
  arn: pulumi.Output<string>;
}

function createDatabase(): Database {
  const subnetGroup = new aws.rds.SubnetGroup("database", { name, subnetIds: privateSubnetIds }, opts);

  const monitoringRole = new aws.iam.Role("rds-monitoring", {
    name: `${name}-rds-monitoring`,
    assumeRolePolicy: assumeRole("monitoring.rds.amazonaws.com"),
  }, opts);

  new aws.iam.RolePolicyAttachment("rds-monitoring", {
    role: monitoringRole.name,
    policyArn: "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
  }, opts);

  const parameters = new aws.rds.ParameterGroup("database", {
    name,
    family: "{{ 'postgres16' if pg else 'mysql8.4' }}",
    parameters: [
{%- if pg %}
      { name: "rds.force_ssl", value: "1" },
      { name: "log_min_duration_statement", value: "1000" },
      { name: "log_connections", value: "1" },
{%- else %}
      { name: "require_secure_transport", value: "ON" },
      { name: "slow_query_log", value: "1" },
      { name: "long_query_time", value: "1" },
{%- endif %}
    ],
  }, opts);

  // Automated backups give point-in-time recovery within the retention window (RDS keeps at most 35 days).
  const database = new aws.rds.Instance("database", {
    identifier: name,
    engine: "{{ 'postgres' if pg else 'mysql' }}",
    engineVersion: "{{ '16' if pg else '8.4' }}",
    instanceClass: databaseInstanceClass,
    allocatedStorage: highAvailability ? 100 : 20,
    maxAllocatedStorage: highAvailability ? 1000 : 100,
    storageType: "gp3",
    storageEncrypted: true,
    kmsKeyId: kmsKey.arn,
    dbName: name.replace(/-/g, "_"),
    username: "app",
    manageMasterUserPassword: true,
    masterUserSecretKmsKeyId: kmsKey.arn,
    iamDatabaseAuthenticationEnabled: true,
    multiAz: highAvailability,
    dbSubnetGroupName: subnetGroup.name,
    parameterGroupName: parameters.name,
    vpcSecurityGroupIds: [dataGroup.id],
    publiclyAccessible: false,
    backupRetentionPeriod: Math.min(backupRetentionDays, 35),
    backupWindow: "02:00-03:00",
    maintenanceWindow: "sun:04:00-sun:05:00",
    copyTagsToSnapshot: true,
    deletionProtection,
    // A pr-<number> preview is thrown away with its data; every environment keeps a final snapshot.
    skipFinalSnapshot: preview,
    finalSnapshotIdentifier: preview ? undefined : `${name}-final`,
    autoMinorVersionUpgrade: true,
    performanceInsightsEnabled: true,
    performanceInsightsKmsKeyId: kmsKey.arn,
    performanceInsightsRetentionPeriod: 7,
    monitoringInterval: 60,
    monitoringRoleArn: monitoringRole.arn,
    enabledCloudwatchLogsExports: {{ to_json(['postgresql', 'upgrade'] if pg else ['error', 'slowquery']) }},
  }, opts);
  return { endpoint: database.address, arn: database.arn };
}
{%- elif database == 'mongodb' %}

interface Database {
  endpoint: pulumi.Output<string>;
  arn: pulumi.Output<string>;
}

function createDatabase(): Database {
  const subnetGroup = new aws.docdb.SubnetGroup("database", { name, subnetIds: privateSubnetIds }, opts);

  // MongoDB-compatible: Amazon DocumentDB, encrypted, with audit and profiler logs.
  const database = new aws.docdb.Cluster("database", {
    clusterIdentifier: name,
    engine: "docdb",
    masterUsername: "app",
    manageMasterUserPassword: true,
    dbSubnetGroupName: subnetGroup.name,
    vpcSecurityGroupIds: [dataGroup.id],
    storageEncrypted: true,
    kmsKeyId: kmsKey.arn,
    backupRetentionPeriod: Math.min(backupRetentionDays, 35),
    preferredBackupWindow: "02:00-03:00",
    deletionProtection,
    skipFinalSnapshot: preview,
    finalSnapshotIdentifier: preview ? undefined : `${name}-final`,
    enabledCloudwatchLogsExports: ["audit", "profiler"],
  }, opts);

  for (let index = 0; index < (highAvailability ? 2 : 1); index++) {
    new aws.docdb.ClusterInstance(`database-${index}`, {
      identifier: `${name}-${index}`,
      clusterIdentifier: database.id,
      instanceClass: databaseInstanceClass,
    }, opts);
}
return { endpoint: database.endpoint, arn: database.arn };
}
{%- endif %}
{%- if database != 'none' %}

const database = withData ? createDatabase() : undefined;
export const databaseEndpoint: pulumi.Output<string> = database ? database.endpoint : pulumi.output("");
{%- else %}
export const databaseEndpoint: pulumi.Output<string> = pulumi.output("");
{%- endif %}
{%- if cache == 'redis' %}

function createCache(): pulumi.Output<string> {
  const cacheSubnets = new aws.elasticache.SubnetGroup("cache", { name, subnetIds: privateSubnetIds }, opts);

  const redis = new aws.elasticache.ReplicationGroup("cache", {
    replicationGroupId: name,
    description: `Cache and queues of ${name}`,
    engine: "redis",
    engineVersion: "7.1",
    nodeType: cacheNodeType,
    numCacheClusters: highAvailability ? 2 : 1,
    automaticFailoverEnabled: highAvailability,
    multiAzEnabled: highAvailability,
    subnetGroupName: cacheSubnets.name,
    securityGroupIds: [dataGroup.id],
    atRestEncryptionEnabled: true,
    transitEncryptionEnabled: true,
    kmsKeyId: kmsKey.arn,
    snapshotRetentionLimit: 7,
    autoMinorVersionUpgrade: true,
  }, opts);
  return redis.primaryEndpointAddress;
}

export const cacheEndpoint: pulumi.Output<string> = withData ? createCache() : pulumi.output("");
{%- else %}
export const cacheEndpoint: pulumi.Output<string> = pulumi.output("");
{%- endif %}
{%- if database != 'none' and (backup_retention_days > 35 or backup_strategy == 'continuous') %}

// AWS Backup keeps {{ backup_retention_days }} days (backup_retention_days) beyond RDS's 35-day automated window
{%- if backup_strategy == 'continuous' %}, with continuous backups for point-in-time restore{% endif %}.
if (database && !preview) {
  const vault = new aws.backup.Vault("database", { name, kmsKeyArn: kmsKey.arn }, opts);

  const plan = new aws.backup.Plan("database", {
    name,
    rules: [{
      ruleName: "{{ backup_strategy }}",
      targetVaultName: vault.name,
      schedule: "{{ i.aws_backup_cron }}",
      enableContinuousBackup: {{ 'true' if backup_strategy == 'continuous' else 'false' }},
      lifecycle: { deleteAfter: {{ [backup_retention_days, 35] | min if backup_strategy == 'continuous' else backup_retention_days }} },
    }],
  }, opts);

  const backupRole = new aws.iam.Role("backup", {
    name: `${name}-backup`,
    assumeRolePolicy: assumeRole("backup.amazonaws.com"),
  }, opts);

  new aws.iam.RolePolicyAttachment("backup", {
    role: backupRole.name,
    policyArn: "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
  }, opts);

  new aws.backup.Selection("database", {
    name,
    planId: plan.id,
    iamRoleArn: backupRole.arn,
    resources: [database.arn],
  }, opts);
}
{%- endif %}

export const outputs = {
  secret_arn: secret.arn,
  kms_key_arn: kmsKey.arn,
  database_endpoint: databaseEndpoint,
  cache_endpoint: cacheEndpoint,
};
