{%- set runtime = catalog.fact('app_language', app_language, 'lambda_runtime') -%}
{%- set handler = catalog.fact('app_language', app_language, 'lambda_handler') -%}
{%- set architecture = catalog.fact('deploy_target', 'aws_lambda', 'lambda_architecture') -%}
// AWS Lambda behind an HTTP API: the function runs the code package scripts/package.sh builds (the image
// config is its S3 key in the artifacts bucket, or a zip file for a preview), the "live" alias receives traffic (CodeDeploy-style shifting by scripts/deploy.sh),
// logs are encrypted, the custom domain has its own certificate.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { assumeRole, certificate, readSecret, zone } from "./aws";
import { deletionProtection, environment, host, image, maxInstances, memory, minInstances, name } from "./config";
import { kmsKey, secret } from "./data";
import { privateSubnetIds, vpc } from "./network";
import { opts } from "./provider";

const artifacts = new aws.s3.Bucket("artifacts", { bucket: `${name}-artifacts`, forceDestroy: !deletionProtection }, opts);

new aws.s3.BucketPublicAccessBlock("artifacts", {
  bucket: artifacts.id,
  blockPublicAcls: true,
  blockPublicPolicy: true,
  ignorePublicAcls: true,
  restrictPublicBuckets: true,
}, opts);

new aws.s3.BucketVersioning("artifacts", { bucket: artifacts.id, versioningConfiguration: { status: "Enabled" } }, opts);

new aws.s3.BucketLifecycleConfiguration("artifacts", {
  bucket: artifacts.id,
  rules: [{
    id: "expire-old-packages",
    status: "Enabled",
    filter: {},
    noncurrentVersionExpiration: { noncurrentDays: 30 },
    abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
  }],
}, opts);

new aws.s3.BucketServerSideEncryptionConfiguration("artifacts", {
  bucket: artifacts.id,
  rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: kmsKey.arn } }],
}, opts);

const role = new aws.iam.Role("function", {
  name: `${name}-lambda`,
  assumeRolePolicy: assumeRole("lambda.amazonaws.com"),
}, opts);

new aws.iam.RolePolicyAttachment("vpc", {
  role: role.name,
  policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}, opts);

readSecret(role.id, secret.arn, kmsKey.arn);

const functionLogs = new aws.cloudwatch.LogGroup("function", {
  name: `/aws/lambda/${name}`,
  retentionInDays: 365,
  kmsKeyId: kmsKey.arn,
}, opts);

const functionGroup = new aws.ec2.SecurityGroup("function", {
  name: `${name}-lambda`,
  description: "The function: outbound HTTPS and VPC data services",
  vpcId: vpc.id,
  egress: [
    { description: "HTTPS APIs", fromPort: 443, toPort: 443, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] },
    { description: "Database and cache inside the VPC", fromPort: 0, toPort: 65535, protocol: "tcp", cidrBlocks: [vpc.cidrBlock] },
  ],
}, opts);

const deadLetters = new aws.sqs.Queue("dead-letters", { name: `${name}-dead-letters`, kmsMasterKeyId: kmsKey.arn }, opts);

// A preview deploys the zip its CI job just built (scripts/package.sh; paths are relative to the repository root);
// environments run the S3 key scripts/deploy.sh uploaded.
const packagePath = isAbsolute(image) ? image : resolve("..", image);
const code = image.endsWith(".zip") && existsSync(packagePath)
  ? { code: new pulumi.asset.FileArchive(packagePath) }
  : { s3Bucket: artifacts.id, s3Key: image };

const fn = new aws.lambda.Function("app", {
  name,
  role: role.arn,
  runtime: "{{ runtime }}",
  handler: "{{ handler }}",
  architectures: ["{{ architecture }}"],
  ...code,
  memorySize: memory,
  timeout: 30,
  publish: true,
  reservedConcurrentExecutions: maxInstances * 10,
  kmsKeyArn: kmsKey.arn,
  environment: { variables: { APP_ENV: environment, SECRET_ARN: secret.arn } },
  vpcConfig: { subnetIds: privateSubnetIds, securityGroupIds: [functionGroup.id] },
  tracingConfig: { mode: "Active" },
  deadLetterConfig: { targetArn: deadLetters.arn },
  loggingConfig: { logFormat: "JSON", logGroup: functionLogs.name },
}, {
  ...opts,
  // scripts/deploy.sh uploads new code and moves the alias.
  ignoreChanges: ["s3Key"],
});

const live = new aws.lambda.Alias("live", {
  name: "live",
  functionName: fn.name,
  functionVersion: fn.version,
}, { ...opts, ignoreChanges: ["functionVersion", "routingConfig"] });

if (minInstances > 1) {
  new aws.lambda.ProvisionedConcurrencyConfig("live", {
    functionName: fn.name,
    qualifier: live.name,
    provisionedConcurrentExecutions: minInstances,
  }, opts);
}

const api = new aws.apigatewayv2.Api("app", { name, protocolType: "HTTP" }, opts);

const integration = new aws.apigatewayv2.Integration("app", {
  apiId: api.id,
  integrationType: "AWS_PROXY",
  integrationUri: live.invokeArn,
  payloadFormatVersion: "2.0",
}, opts);

new aws.apigatewayv2.Route("default", {
  apiId: api.id,
  routeKey: "$default",
  target: pulumi.interpolate`integrations/${integration.id}`,
}, opts);

const apiLogs = new aws.cloudwatch.LogGroup("api", {
  name: `/aws/apigateway/${name}`,
  retentionInDays: 365,
  kmsKeyId: kmsKey.arn,
}, opts);

const stage = new aws.apigatewayv2.Stage("default", {
  apiId: api.id,
  name: "$default",
  autoDeploy: true,
  accessLogSettings: {
    destinationArn: apiLogs.arn,
    format: JSON.stringify({
      requestId: "$context.requestId", ip: "$context.identity.sourceIp", method: "$context.httpMethod",
      path: "$context.path", status: "$context.status", latency: "$context.responseLatency",
    }),
  },
  defaultRouteSettings: { throttlingBurstLimit: 500, throttlingRateLimit: 1000 },
}, opts);

new aws.lambda.Permission("api", {
  statementId: "AllowHttpApi",
  action: "lambda:InvokeFunction",
  function: fn.name,
  qualifier: live.name,
  principal: "apigateway.amazonaws.com",
  sourceArn: pulumi.interpolate`${api.executionArn}/*/*`,
}, opts);

const validated = certificate();

const domainName = new aws.apigatewayv2.DomainName("app", {
  domainName: host,
  domainNameConfiguration: {
    certificateArn: validated.certificateArn,
    endpointType: "REGIONAL",
    securityPolicy: "TLS_1_2",
  },
}, opts);

new aws.apigatewayv2.ApiMapping("app", { apiId: api.id, domainName: domainName.id, stage: stage.id }, opts);

new aws.route53.Record("app", {
  zoneId: zone.zoneId,
  name: host,
  type: "A",
  aliases: [{
    name: domainName.domainNameConfiguration.targetDomainName,
    zoneId: domainName.domainNameConfiguration.hostedZoneId,
    evaluateTargetHealth: false,
  }],
}, opts);

export const outputs = {
  function_name: fn.name,
  artifact_bucket: artifacts.id,
  api_endpoint: api.apiEndpoint,
};
