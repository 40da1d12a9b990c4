{%- set i = infra() -%}
// ECS Fargate: cluster, web service behind an HTTPS load balancer, {% if has_worker %}worker service, {% endif %}autoscaling,
// least-privilege task roles, encrypted logs. Deployments roll with the circuit breaker and roll back on failure.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRole, certificate, readSecret, regionName, zone } from "./aws";
import {
  cpu, cpuTarget, deletionProtection, environment, healthPath, host, image, maxInstances, memory, minInstances, name, port,
  secretNames, workerCommand,
} from "./config";
import { kmsKey, secret } from "./data";
import { privateSubnetIds, publicSubnetIds, vpc } from "./network";
import { invokeOpts, opts } from "./provider";

const cluster = new aws.ecs.Cluster("cluster", {
  name,
  settings: [{ name: "containerInsights", value: "enabled" }],
}, opts);

const logGroup = new aws.cloudwatch.LogGroup("app", {
  name: `/ecs/${name}`,
  retentionInDays: 365,
  kmsKeyId: kmsKey.arn,
}, opts);

// Execution role: pull the image, write logs, read this environment's secret.
const executionRole = new aws.iam.Role("execution", {
  name: `${name}-execution`,
  assumeRolePolicy: assumeRole("ecs-tasks.amazonaws.com"),
}, opts);

new aws.iam.RolePolicyAttachment("execution", {
  role: executionRole.name,
  policyArn: "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
}, opts);

readSecret(executionRole.id, secret.arn, kmsKey.arn);

// Task role: what the application itself may call (nothing until it needs something).
const taskRole = new aws.iam.Role("task", {
  name: `${name}-task`,
  assumeRolePolicy: assumeRole("ecs-tasks.amazonaws.com"),
}, opts);

/** The container definition of one process (JSON, as ECS expects it). */
function containerDefinitions(process: string, extra: Record<string, unknown>): pulumi.Output<string> {
  return pulumi.all([secret.arn, logGroup.name, regionName]).apply(([secretArn, group, region]) => JSON.stringify([{
    name: process,
    image,
    essential: true,
    readonlyRootFilesystem: true,
    user: "{{ i.language.uid }}:{{ i.language.uid }}",
    environment: [{ name: "APP_ENV", value: environment }, { name: "PORT", value: String(port) }],
    secrets: secretNames.map((key) => ({ name: key, valueFrom: `${secretArn}:${key}::` })),
    logConfiguration: {
      logDriver: "awslogs",
      options: { "awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": "app" },
    },
    mountPoints: [{ sourceVolume: "tmp", containerPath: "/tmp", readOnly: false }],
    ...extra,
  }]));
}

const taskBase = {
  requiresCompatibilities: ["FARGATE"],
  networkMode: "awsvpc",
  cpu: String(cpu),
  memory: String(memory),
  executionRoleArn: executionRole.arn,
  taskRoleArn: taskRole.arn,
  runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
  volumes: [{ name: "tmp" }],
};

const webTask = new aws.ecs.TaskDefinition("web", {
  ...taskBase,
  family: `${name}-web`,
  containerDefinitions: containerDefinitions("web", {
    portMappings: [{ containerPort: port, protocol: "tcp" }],
{%- if graceful_shutdown %}
    stopTimeout: {{ [shutdown_timeout_seconds, 120] | min }},
{%- endif %}
  }),
}, opts);

const albGroup = new aws.ec2.SecurityGroup("alb", {
  name: `${name}-alb`,
  description: "HTTPS from the internet to the load balancer",
  vpcId: vpc.id,
  ingress: [
    { description: "HTTPS", fromPort: 443, toPort: 443, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] },
    { description: "HTTP, redirected to HTTPS", fromPort: 80, toPort: 80, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] },
  ],
  egress: [{ description: "To the application in the VPC", fromPort: port, toPort: port, protocol: "tcp", cidrBlocks: [vpc.cidrBlock] }],
}, opts);

const appGroup = new aws.ec2.SecurityGroup("app", {
  name: `${name}-app`,
  description: "The application: traffic from the load balancer only",
  vpcId: vpc.id,
  ingress: [{ description: "From the load balancer", fromPort: port, toPort: port, protocol: "tcp", securityGroups: [albGroup.id] }],
  egress: [
    { description: "HTTPS APIs (secrets, registry, third parties)", fromPort: 443, toPort: 443, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] },
    { description: "Database and cache inside the VPC", fromPort: 0, toPort: 65535, protocol: "tcp", cidrBlocks: [vpc.cidrBlock] },
  ],
}, opts);

// Load balancer access logs: private, encrypted, versioned, expired after 90 days.
const logBucket = new aws.s3.Bucket("alb-logs", { bucket: `${name}-alb-logs`, forceDestroy: !deletionProtection }, opts);

new aws.s3.BucketPublicAccessBlock("alb-logs", {
  bucket: logBucket.id,
  blockPublicAcls: true,
  blockPublicPolicy: true,
  ignorePublicAcls: true,
  restrictPublicBuckets: true,
}, opts);

new aws.s3.BucketServerSideEncryptionConfiguration("alb-logs", {
  bucket: logBucket.id,
  rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
}, opts);

new aws.s3.BucketVersioning("alb-logs", { bucket: logBucket.id, versioningConfiguration: { status: "Enabled" } }, opts);

new aws.s3.BucketLifecycleConfiguration("alb-logs", {
  bucket: logBucket.id,
  rules: [{
    id: "expire",
    status: "Enabled",
    filter: {},
    expiration: { days: 90 },
    noncurrentVersionExpiration: { noncurrentDays: 7 },
    abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
  }],
}, opts);

const elbAccount = aws.elb.getServiceAccountOutput({}, invokeOpts);
const logPolicy = new aws.s3.BucketPolicy("alb-logs", {
  bucket: logBucket.id,
  policy: pulumi.all([logBucket.arn, elbAccount.arn]).apply(([bucket, account]) => JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { AWS: account }, Action: "s3:PutObject", Resource: `${bucket}/*` }],
  })),
}, opts);

const loadBalancer = new aws.lb.LoadBalancer("web", {
  name: name.slice(0, 32),
  loadBalancerType: "application",
  internal: false,
  securityGroups: [albGroup.id],
  subnets: publicSubnetIds,
  dropInvalidHeaderFields: true,
  enableDeletionProtection: deletionProtection,
  accessLogs: { bucket: logBucket.id, enabled: true },
}, { ...opts, dependsOn: [logPolicy] });

// AWS managed rules in front of the load balancer: common exploits and known bad inputs.
const ruleSets = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"];
const webAcl = new aws.wafv2.WebAcl("web", {
  name,
  scope: "REGIONAL",
  defaultAction: { allow: {} },
  rules: ruleSets.map((ruleSet, index) => ({
    name: ruleSet,
    priority: index + 1,
    overrideAction: { none: {} },
    statement: { managedRuleGroupStatement: { name: ruleSet, vendorName: "AWS" } },
    visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: ruleSet, sampledRequestsEnabled: true },
  })),
  visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true },
}, opts);

const wafLogs = new aws.cloudwatch.LogGroup("waf", {
  name: `aws-waf-logs-${name}`,
  retentionInDays: 365,
  kmsKeyId: kmsKey.arn,
}, opts);

new aws.wafv2.WebAclLoggingConfiguration("web", { resourceArn: webAcl.arn, logDestinationConfigs: [wafLogs.arn] }, opts);
new aws.wafv2.WebAclAssociation("web", { resourceArn: loadBalancer.arn, webAclArn: webAcl.arn }, opts);

const targetGroup = new aws.lb.TargetGroup("web", {
  name: `${name}-web`.slice(0, 32),
  port,
  protocol: "HTTP",
  targetType: "ip",
  vpcId: vpc.id,
  deregistrationDelay: {{ shutdown_timeout_seconds if graceful_shutdown else 30 }},
  healthCheck: {
    path: healthPath,
    matcher: "200",
    interval: 15,
    timeout: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
  },
}, opts);

const validated = certificate();

const https = new aws.lb.Listener("https", {
  loadBalancerArn: loadBalancer.arn,
  port: 443,
  protocol: "HTTPS",
  sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
  certificateArn: validated.certificateArn,
  defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
}, opts);

new aws.lb.Listener("http", {
  loadBalancerArn: loadBalancer.arn,
  port: 80,
  protocol: "HTTP",
  defaultActions: [{ type: "redirect", redirect: { port: "443", protocol: "HTTPS", statusCode: "HTTP_301" } }],
}, opts);

new aws.route53.Record("app", {
  zoneId: zone.zoneId,
  name: host,
  type: "A",
  aliases: [{ name: loadBalancer.dnsName, zoneId: loadBalancer.zoneId, evaluateTargetHealth: true }],
}, opts);

const network = { subnets: privateSubnetIds, securityGroups: [appGroup.id], assignPublicIp: false };

const webService = new aws.ecs.Service("web", {
  name: "web",
  cluster: cluster.id,
  taskDefinition: webTask.arn,
  desiredCount: minInstances,
  launchType: "FARGATE",
  deploymentMinimumHealthyPercent: 100,
  deploymentMaximumPercent: 200,
  healthCheckGracePeriodSeconds: 60,
  propagateTags: "SERVICE",
  deploymentCircuitBreaker: { enable: true, rollback: true },
  networkConfiguration: network,
  loadBalancers: [{ targetGroupArn: targetGroup.arn, containerName: "web", containerPort: port }],
}, {
  ...opts,
  dependsOn: [https],
  // CI deploys new task definitions (scripts/deploy.sh); autoscaling owns the count.
  ignoreChanges: ["taskDefinition", "desiredCount"],
});

const scaling = new aws.appautoscaling.Target("web", {
  serviceNamespace: "ecs",
  resourceId: pulumi.interpolate`service/${cluster.name}/${webService.name}`,
  scalableDimension: "ecs:service:DesiredCount",
  minCapacity: minInstances,
  maxCapacity: maxInstances,
}, opts);

new aws.appautoscaling.Policy("web-cpu", {
  name: `${name}-web-cpu`,
  policyType: "TargetTrackingScaling",
  serviceNamespace: scaling.serviceNamespace,
  resourceId: scaling.resourceId,
  scalableDimension: scaling.scalableDimension,
  targetTrackingScalingPolicyConfiguration: {
    targetValue: cpuTarget,
    predefinedMetricSpecification: { predefinedMetricType: "ECSServiceAverageCPUUtilization" },
  },
}, opts);

if (workerCommand.length > 0) {
  const workerTask = new aws.ecs.TaskDefinition("worker", {
    ...taskBase,
    family: `${name}-worker`,
    containerDefinitions: containerDefinitions("worker", { command: workerCommand }),
  }, opts);

  new aws.ecs.Service("worker", {
    name: "worker",
    cluster: cluster.id,
    taskDefinition: workerTask.arn,
    desiredCount: minInstances,
    launchType: "FARGATE",
    propagateTags: "SERVICE",
    deploymentCircuitBreaker: { enable: true, rollback: true },
    networkConfiguration: network,
  }, { ...opts, ignoreChanges: ["taskDefinition"] });
}

export const outputs = {
  cluster_name: cluster.name,
  web_service: webService.name,
  load_balancer_dns: loadBalancer.dnsName,
};
