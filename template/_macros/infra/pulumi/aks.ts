{%- set i = infra() -%}
// Azure AKS: Entra ID RBAC without local accounts, Azure CNI overlay with Cilium network policies,
// OIDC issuer + workload identity, Azure Policy, an autoscaling user node pool; External Secrets
// reads only this environment's Key Vault through a federated identity.
import * as containerservice from "@pulumi/azure-native/containerservice";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import { client, grant, logAnalytics, resourceGroupName } from "./azure";
import { environment, kubernetesVersion, location, maxNodes, minNodes, name, nodeSize } from "./config";
import { vault } from "./data";
import { opts } from "./provider";

const workspace = logAnalytics();

const cluster = new containerservice.ManagedCluster("cluster", {
  resourceName: name,
  resourceGroupName,
  location,
  dnsPrefix: name,
  kubernetesVersion,
  sku: { name: "Base", tier: environment === "production" ? "Standard" : "Free" },
  disableLocalAccounts: true,
  oidcIssuerProfile: { enabled: true },
  securityProfile: { workloadIdentity: { enabled: true } },
  autoUpgradeProfile: { upgradeChannel: "patch" },
  identity: { type: "SystemAssigned" },
  aadProfile: { managed: true, enableAzureRBAC: true, tenantID: client.tenantId },
  addonProfiles: {
    azurepolicy: { enabled: true },
    omsagent: { enabled: true, config: { logAnalyticsWorkspaceResourceID: workspace.id } },
  },
  agentPoolProfiles: [{
    name: "system",
    mode: "System",
    vmSize: nodeSize,
    count: 1,
    osType: "Linux",
    osDiskType: "Ephemeral",
    enableEncryptionAtHost: true,
    maxPods: 50,
    nodeTaints: ["CriticalAddonsOnly=true:NoSchedule"],
  }],
  networkProfile: {
    networkPlugin: "azure",
    networkPluginMode: "overlay",
    networkDataplane: "cilium",
    networkPolicy: "cilium",
  },
}, { ...opts, ignoreChanges: ["agentPoolProfiles[0].count"] });

new containerservice.AgentPool("app", {
  agentPoolName: "app",
  resourceName: cluster.name,
  resourceGroupName,
  mode: "User",
  vmSize: nodeSize,
  osType: "Linux",
  enableAutoScaling: true,
  minCount: minNodes,
  maxCount: maxNodes,
  count: minNodes,
  osDiskType: "Ephemeral",
  enableEncryptionAtHost: true,
  maxPods: 50,
}, { ...opts, ignoreChanges: ["count"] });

const externalSecrets = new managedidentity.UserAssignedIdentity("external-secrets", {
  resourceName: `${name}-external-secrets`,
  resourceGroupName,
  location,
}, opts);

new managedidentity.FederatedIdentityCredential("external-secrets", {
  federatedIdentityCredentialResourceName: "external-secrets",
  resourceName: externalSecrets.name,
  resourceGroupName,
  audiences: ["api://AzureADTokenExchange"],
  issuer: cluster.oidcIssuerProfile.apply((profile) => profile?.issuerURL ?? ""),
  subject: `system:serviceaccount:{{ i.slug }}-${environment}:{{ i.slug }}-secrets`,
}, opts);

grant("external-secrets", vault.id, "keyVaultSecretsUser", externalSecrets.principalId);

export const outputs = {
  cluster_name: cluster.name,
  external_secrets_client_id: externalSecrets.clientId,
};
