// AWS App Runner: the service pulls the image from ECR, reaches the database through a VPC
// connector, reads this environment's secret, autoscales on concurrency, serves the custom domain.
import * as aws from "@pulumi/aws";
import { assumeRole, readSecret } from "./aws";
import { cpu, environment, healthPath, host, image, maxInstances, memory, minInstances, name, port, secretNames } from "./config";
import { kmsKey, secret } from "./data";
import { privateSubnetIds, vpc } from "./network";
import { opts } from "./provider";

const accessRole = new aws.iam.Role("apprunner-access", {
  name: `${name}-apprunner-access`,
  assumeRolePolicy: assumeRole("build.apprunner.amazonaws.com"),
}, opts);

new aws.iam.RolePolicyAttachment("apprunner-access", {
  role: accessRole.name,
  policyArn: "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess",
}, opts);

const instanceRole = new aws.iam.Role("apprunner-instance", {
  name: `${name}-apprunner-instance`,
  assumeRolePolicy: assumeRole("tasks.apprunner.amazonaws.com"),
}, opts);

readSecret(instanceRole.id, secret.arn, kmsKey.arn);

const connectorGroup = new aws.ec2.SecurityGroup("apprunner", {
  name: `${name}-apprunner`,
  description: "App Runner VPC connector: outbound to the database and cache",
  vpcId: vpc.id,
  egress: [{ description: "Database and cache inside the VPC", fromPort: 0, toPort: 65535, protocol: "tcp", cidrBlocks: [vpc.cidrBlock] }],
}, opts);

const connector = new aws.apprunner.VpcConnector("app", {
  vpcConnectorName: name.slice(0, 40),
  subnets: privateSubnetIds,
  securityGroups: [connectorGroup.id],
}, opts);

const scaling = new aws.apprunner.AutoScalingConfigurationVersion("app", {
  autoScalingConfigurationName: name.slice(0, 32),
  minSize: minInstances,
  maxSize: maxInstances,
  maxConcurrency: 80,
}, opts);

const service = new aws.apprunner.Service("app", {
  serviceName: name,
  autoScalingConfigurationArn: scaling.arn,
  sourceConfiguration: {
    autoDeploymentsEnabled: false,
    authenticationConfiguration: { accessRoleArn: accessRole.arn },
    imageRepository: {
      imageIdentifier: image,
      imageRepositoryType: "ECR",
      imageConfiguration: {
        port: String(port),
        runtimeEnvironmentVariables: { APP_ENV: environment },
        runtimeEnvironmentSecrets: secret.arn.apply((arn) => Object.fromEntries(secretNames.map((key) => [key, `${arn}:${key}::`]))),
      },
    },
  },
  instanceConfiguration: {
    cpu: String(cpu),
    memory: String(memory),
    instanceRoleArn: instanceRole.arn,
  },
  healthCheckConfiguration: {
    protocol: "HTTP",
    path: healthPath,
    interval: 10,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
  },
  networkConfiguration: {
    egressConfiguration: { egressType: "VPC", vpcConnectorArn: connector.arn },
  },
  encryptionConfiguration: { kmsKey: kmsKey.arn },
}, {
  ...opts,
  // scripts/deploy.sh points the service at each new image (aws apprunner update-service).
  ignoreChanges: ["sourceConfiguration.imageRepository.imageIdentifier"],
});

const domain = new aws.apprunner.CustomDomainAssociation("app", {
  domainName: host,
  serviceArn: service.arn,
  enableWwwSubdomain: false,
}, opts);

export const outputs = {
  service_arn: service.arn,
  service_url: service.serviceUrl,
  domain_validation_records: domain.certificateValidationRecords,
};
