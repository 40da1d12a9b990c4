{%- set i = infra() -%}
// Google GKE: regional cluster on the release channel, private nodes, Dataplane V2 (network
// policies), Workload Identity, shielded nodes; External Secrets reads only this environment's secrets.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { environment, kubernetesVersion, maxNodes, minNodes, name, nodeSize, projectId, region } from "./config";
import { opts } from "./provider";

const nodeAccount = new gcp.serviceaccount.Account("nodes", {
  accountId: `${name}-nodes`.slice(0, 30),
  displayName: `${name} GKE nodes`,
}, opts);

for (const role of ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/artifactregistry.reader"]) {
  new gcp.projects.IAMMember(`nodes-${role.split("/")[1]}`, {
    project: projectId,
    role,
    member: pulumi.interpolate`serviceAccount:${nodeAccount.email}`,
  }, opts);
}

const shieldedNodes = {
  serviceAccount: nodeAccount.email,
  shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
  workloadMetadataConfig: { mode: "GKE_METADATA" },
};

const cluster = new gcp.container.Cluster("cluster", {
  name,
  location: region,
  minMasterVersion: kubernetesVersion,
  removeDefaultNodePool: true,
  initialNodeCount: 1,
  datapathProvider: "ADVANCED_DATAPATH",
  enableIntranodeVisibility: true,
  enableShieldedNodes: true,
  deletionProtection: environment === "production",
  resourceLabels: { environment },
  releaseChannel: { channel: "REGULAR" },
  workloadIdentityConfig: { workloadPool: `${projectId}.svc.id.goog` },
  privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: "172.16.0.0/28" },
  ipAllocationPolicy: {},
  masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
  binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" },
  nodeConfig: shieldedNodes,
}, opts);

new gcp.container.NodePool("app", {
  name: "app",
  location: region,
  cluster: cluster.name,
  autoscaling: { minNodeCount: minNodes, maxNodeCount: maxNodes },
  management: { autoRepair: true, autoUpgrade: true },
  nodeConfig: {
    ...shieldedNodes,
    machineType: nodeSize,
    imageType: "COS_CONTAINERD",
    oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
  },
}, opts);

const externalSecrets = new gcp.serviceaccount.Account("external-secrets", {
  accountId: `${name}-eso`.slice(0, 30),
  displayName: `${name} External Secrets`,
}, opts);

new gcp.projects.IAMMember("external-secrets", {
  project: projectId,
  role: "roles/secretmanager.secretAccessor",
  member: pulumi.interpolate`serviceAccount:${externalSecrets.email}`,
  condition: {
    title: "this-environment-only",
    expression: `resource.name.startsWith("projects/${projectId}/secrets/${name}-")`,
  },
}, opts);

// The SecretStore's Kubernetes service account may act as the Google service account.
new gcp.serviceaccount.IAMMember("external-secrets", {
  serviceAccountId: externalSecrets.name,
  role: "roles/iam.workloadIdentityUser",
  member: `serviceAccount:${projectId}.svc.id.goog[{{ i.slug }}-${environment}/{{ i.slug }}-secrets]`,
}, opts);

export const outputs = {
  cluster_name: cluster.name,
  external_secrets_service_account: externalSecrets.email,
};
