{%- set i = infra() -%}
{%- set ci = i.program_oidc -%}
// The CI's federated identities: a user-assigned managed identity trusts the CI's OIDC tokens for this environment's
// deploy subjects (one federated credential per exact subject) and may change only this environment's resource group
{%- if ci.plan_subjects %}; a second,
// read-only identity trusts the pull-request plan jobs{% endif %}{% if ci.preview_subjects %}; the {{ ci.preview_host }} stack also creates the preview jobs' identity{% endif %}.
// No client secret exists. The trust is terraform/modules/ci_oidc's: the CI's issuer, audience and subjects.
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { client, grant{% if ci.preview_subjects %}, ROLES{% endif %}, resourceGroup, resourceGroupName } from "./azure";
import { ciIdentity{% if ci.plan_subjects %}, ciPlanIdentity{% endif %}{% if ci.preview_subjects %}, ciPreviewIdentity{% endif %}, CiTrust, location, name{% if ci.preview_subjects %}, previewSubscriptionId, project{% endif %} } from "./config";
import { opts } from "./provider";

export interface CiOidc {
  clientId: pulumi.Output<string>;
  tenantId: pulumi.Output<string>;
  subscriptionId: pulumi.Output<string>;
{%- if ci.plan_subjects %}
  /** CI variable AZURE_PLAN_CLIENT_ID (read-only). */
  planClientId: pulumi.Output<string>;
{%- endif %}
{%- if ci.preview_subjects %}
  /** CI variable AZURE_PREVIEW_CLIENT_ID: only the {{ ci.preview_host }} stack creates the preview identity. */
  previewClientId?: pulumi.Output<string>;
{%- endif %}
}

/** A user-assigned identity that trusts the CI's tokens for each of the trust's exact subjects (Entra ID matches no pattern). */
function federatedIdentity(label: string, resourceName: string, trust: CiTrust): managedidentity.UserAssignedIdentity {
  const { issuer, audience, subjects } = trust;
  const identity = new managedidentity.UserAssignedIdentity(label, { resourceName, resourceGroupName, location }, opts);
  for (const subject of subjects) {
    const id = `${label}-${createHash("sha1").update(subject).digest("hex").slice(0, 12)}`;
    new managedidentity.FederatedIdentityCredential(id, {
      federatedIdentityCredentialResourceName: id,
      resourceName: identity.name,
      resourceGroupName,
      audiences: [audience],
      issuer,
      subject,
    }, opts);
  }
  return identity;
}
{%- if ci.preview_subjects %}

/** An ABAC condition: role assignments written or deleted under this grant may only use the given role definitions. */
function onlyRoles(roleIds: string[]): string {
  const ids = roleIds.join(", ");
  return [
    "(",
    " (",
    "  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})",
    " )",
    " OR",
    " (",
    `  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${ids}}`,
    " )",
    ")",
    "AND",
    "(",
    " (",
    "  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})",
    " )",
    " OR",
    " (",
    `  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${ids}}`,
    " )",
    ")",
  ].join("\n");
}
{%- endif %}

export function ciOidc(): CiOidc {
  const trust = ciIdentity();
  // federated credentials of the deploy identity are named ci-<hash of the subject>
  const identity = federatedIdentity("ci", `${name}-ci`, trust);

  // The deploy job runs `pulumi up` as this identity: it changes the resource group's resources and manages
  // their role assignments (the app's managed identities), nothing outside the resource group.
  grant("ci", resourceGroup.id, "contributor", identity.principalId);
  grant("ci-rbac", resourceGroup.id, "roleBasedAccessControlAdministrator", identity.principalId);
{%- if ci.plan_subjects %}

  // The pull-request plan jobs' identity: Reader of the environment's resource group (`pulumi preview` reads the
  // stack's resources; it takes no lock and writes nothing); it cannot change any resource.
  const planIdentity = federatedIdentity("plan", `${name}-ci-plan`, ciPlanIdentity());
  grant("plan", resourceGroup.id, "reader", planIdentity.principalId);
{%- endif %}
{%- if ci.preview_subjects %}

  // The preview jobs' identity (the {{ ci.preview_host }} stack only): every preview creates its own resource group
  // rg-<project>-pr-<number>, so it is Contributor of the whole (preview) subscription, and may assign only the roles a
  // preview stack assigns (its apps on Key Vault and storage). Azure roles cannot be limited to resource names: give
  // previews a subscription of their own (previewSubscriptionId).
  const previewTrust = ciPreviewIdentity();
  let previewIdentity: managedidentity.UserAssignedIdentity | undefined;
  if (previewTrust) {
    previewIdentity = federatedIdentity("preview", `${name}-ci-preview`, previewTrust);
    const subscriptionId = previewSubscriptionId || client.subscriptionId;
    const subscription = pulumi.interpolate`/subscriptions/${subscriptionId}`;
    grant("preview", subscription, "contributor", previewIdentity.principalId, { subscriptionId });
    grant("preview-rbac", subscription, "roleBasedAccessControlAdministrator", previewIdentity.principalId, {
      subscriptionId,
      description: `Preview stacks of ${project} assign only Key Vault Secrets User and Storage Blob Data Owner`,
      condition: onlyRoles([ROLES.keyVaultSecretsUser, ROLES.storageBlobDataOwner]),
    });
    // this stack's deploy jobs refresh the subscription-wide assignments above: its deploy identity reads them
    grant("ci-preview-reader", subscription, "reader", identity.principalId, { subscriptionId });
  }
{%- endif %}

  return {
    clientId: identity.clientId,
    tenantId: identity.tenantId,
    subscriptionId: client.subscriptionId,
{%- if ci.plan_subjects %}
    planClientId: planIdentity.clientId,
{%- endif %}
{%- if ci.preview_subjects %}
    previewClientId: previewIdentity?.clientId,
{%- endif %}
  };
}
