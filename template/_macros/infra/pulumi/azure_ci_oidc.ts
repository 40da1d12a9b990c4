// The CI's federated identity: a user-assigned managed identity trusts the CI's OIDC tokens for this environment's
// deploy subjects (one federated credential per exact subject) and may change only this environment's resource group.
// No client secret exists. The trust is terraform/modules/ci_oidc's: the CI's issuer, audience and subjects.
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { client, grant, resourceGroup, resourceGroupName } from "./azure";
import { ciIdentity, location, name } from "./config";
import { opts } from "./provider";

export interface CiOidc {
  clientId: pulumi.Output<string>;
  tenantId: pulumi.Output<string>;
  subscriptionId: pulumi.Output<string>;
}

export function ciOidc(): CiOidc {
  const { issuer, audience, subjects } = ciIdentity();
  const identity = new managedidentity.UserAssignedIdentity("ci", {
    resourceName: `${name}-ci`,
    resourceGroupName,
    location,
  }, opts);

  for (const subject of subjects) {
    const id = `ci-${createHash("sha1").update(subject).digest("hex").slice(0, 12)}`;
    new managedidentity.FederatedIdentityCredential(id, {
      federatedIdentityCredentialResourceName: id,
      resourceName: identity.name,
      resourceGroupName,
      audiences: [audience],
      issuer,
      subject,
    }, opts);
  }

  // The deploy job runs `pulumi up` as this identity: it changes the resource group's resources and manages
  // their role assignments (the app's managed identities), nothing outside the resource group.
  grant("ci", resourceGroup.id, "contributor", identity.principalId);
  grant("ci-rbac", resourceGroup.id, "roleBasedAccessControlAdministrator", identity.principalId);
  return { clientId: identity.clientId, tenantId: identity.tenantId, subscriptionId: client.subscriptionId };
}
