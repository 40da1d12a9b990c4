{%- set i = infra() -%}
// Amazon EKS: encrypted secrets, every control-plane log, a managed node group in the private
// subnets, Pod Identity for External Secrets (reads only this environment's secret).
import * as aws from "@pulumi/aws";
import { assumeRole, readSecret } from "./aws";
import { environment, kubernetesVersion, maxNodes, minNodes, name, nodeSize } from "./config";
import { kmsKey, secret } from "./data";
import { privateSubnetIds, publicSubnetIds } from "./network";
import { opts } from "./provider";

const clusterRole = new aws.iam.Role("eks-cluster", {
  name: `${name}-eks-cluster`,
  assumeRolePolicy: assumeRole("eks.amazonaws.com", true),
}, opts);

const clusterPolicy = new aws.iam.RolePolicyAttachment("eks-cluster", {
  role: clusterRole.name,
  policyArn: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
}, opts);

const clusterLogs = new aws.cloudwatch.LogGroup("eks-cluster", {
  name: `/aws/eks/${name}/cluster`,
  retentionInDays: 365,
  kmsKeyId: kmsKey.arn,
}, opts);

const cluster = new aws.eks.Cluster("cluster", {
  name,
  version: kubernetesVersion,
  roleArn: clusterRole.arn,
  enabledClusterLogTypes: ["api", "audit", "authenticator", "controllerManager", "scheduler"],
  accessConfig: { authenticationMode: "API" },
  vpcConfig: {
    subnetIds: [...privateSubnetIds, ...publicSubnetIds],
    endpointPrivateAccess: true,
    endpointPublicAccess: true,
  },
  encryptionConfig: { resources: ["secrets"], provider: { keyArn: kmsKey.arn } },
}, { ...opts, dependsOn: [clusterPolicy, clusterLogs] });

const nodeRole = new aws.iam.Role("eks-nodes", {
  name: `${name}-eks-nodes`,
  assumeRolePolicy: assumeRole("ec2.amazonaws.com"),
}, opts);

const nodePolicies = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"].map((policy) =>
  new aws.iam.RolePolicyAttachment(`eks-nodes-${policy}`, {
    role: nodeRole.name,
    policyArn: `arn:aws:iam::aws:policy/${policy}`,
  }, opts));

const nodes = new aws.eks.NodeGroup("app", {
  clusterName: cluster.name,
  nodeGroupName: "app",
  nodeRoleArn: nodeRole.arn,
  subnetIds: privateSubnetIds,
  instanceTypes: [nodeSize],
  amiType: "AL2023_x86_64_STANDARD",
  scalingConfig: { desiredSize: minNodes, minSize: minNodes, maxSize: maxNodes },
  updateConfig: { maxUnavailable: 1 },
}, { ...opts, dependsOn: nodePolicies, ignoreChanges: ["scalingConfig.desiredSize"] });

for (const addon of ["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"]) {
  new aws.eks.Addon(addon, { clusterName: cluster.name, addonName: addon }, { ...opts, dependsOn: [nodes] });
}

const externalSecrets = new aws.iam.Role("external-secrets", {
  name: `${name}-external-secrets`,
  assumeRolePolicy: assumeRole("pods.eks.amazonaws.com", true),
}, opts);

readSecret(externalSecrets.id, secret.arn, kmsKey.arn);

// The SecretStore's service account in the application's namespace (k8s/ or helm/).
new aws.eks.PodIdentityAssociation("external-secrets", {
  clusterName: cluster.name,
  namespace: `{{ i.slug }}-${environment}`,
  serviceAccount: "{{ i.slug }}-secrets",
  roleArn: externalSecrets.arn,
}, opts);

export const outputs = {
  cluster_name: cluster.name,
  cluster_endpoint: cluster.endpoint,
};
