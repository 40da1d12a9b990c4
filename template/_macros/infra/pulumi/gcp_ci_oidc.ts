{%- set i = infra() -%}
{%- set ci = i.program_oidc -%}
// The CI's federated identity: a workload identity pool trusts the CI's OIDC tokens for this environment's deploy
// subjects, which may impersonate the deployer service account. No key file exists. The trust is
// terraform/modules/ci_oidc's: the CI's issuer, the audience its jobs request, the same subject conditions.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { ciIdentity, name, project, projectId } from "./config";
import { opts } from "./provider";

export interface CiOidc {
  workloadIdentityProvider: pulumi.Output<string>;
  serviceAccountEmail: pulumi.Output<string>;
}

/** A subject with * (a branch pattern or any user) is an RE2 match, * standing for one path segment; others match exactly. */
function subjectCondition(subject: string): string {
  return subject.includes("*")
    ? `assertion.sub.matches(r'^${subject.replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}$')`
    : `assertion.sub == "${subject}"`;
}

export function ciOidc(): CiOidc {
  const { issuer, audience, subjects{% if ci.circleci_context %}, contextId{% endif %} } = ciIdentity();
  const pool = new gcp.iam.WorkloadIdentityPool("ci", {
    workloadIdentityPoolId: `ci-${name}`.slice(0, 32),
    displayName: `CI ${name}`.slice(0, 32),
  }, opts);
  const subjectConditions = subjects.map(subjectCondition).join(" || ");
{%- if ci.circleci_context %}
  // CircleCI: the token must also come from a job that uses this environment's context (restrict the context
  // to the deploy branches in CircleCI's organization settings).
  const attributeCondition = `(${subjectConditions}) && '${contextId}' in assertion['oidc.circleci.com/context-ids']`;
{%- else %}
  const attributeCondition = subjectConditions;
{%- endif %}

  const provider = new gcp.iam.WorkloadIdentityPoolProvider("ci", {
    workloadIdentityPoolId: pool.workloadIdentityPoolId,
    workloadIdentityPoolProviderId: "ci",
    attributeMapping: { "google.subject": "assertion.sub" },
    attributeCondition,
    // an empty audience: the provider's resource name (what the CI's jobs request), the default
    oidc: { issuerUri: issuer, allowedAudiences: audience ? [audience] : undefined },
  }, opts);

  const deployer = new gcp.serviceaccount.Account("deployer", {
    accountId: `${name}-deploy`.slice(0, 30),
    displayName: `CI deployer of ${name}`,
  }, opts);

  // the pool has one provider, whose attribute condition admits only this environment's deploy subjects
  new gcp.serviceaccount.IAMMember("ci", {
    serviceAccountId: deployer.name,
    role: "roles/iam.workloadIdentityUser",
    member: pulumi.interpolate`principalSet://iam.googleapis.com/${pool.name}/*`,
  }, opts);

  // The deploy job runs `pulumi up` as the deployer: it manages every resource of the stack (Cloud Run, Cloud SQL,
  // Memorystore, Secret Manager, networking, service accounts and their project roles) and reads/writes the state.
  const roles = [
    "roles/editor", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser", "roles/iam.workloadIdentityPoolAdmin",
    "roles/resourcemanager.projectIamAdmin", "roles/secretmanager.admin", "roles/run.admin", "roles/artifactregistry.writer",
    "roles/container.developer",
  ];
  for (const role of roles) {
    new gcp.projects.IAMMember(`deployer-${role.split("/")[1]}`, {
      project: projectId,
      role,
      member: pulumi.interpolate`serviceAccount:${deployer.email}`,
    }, opts);
  }

  new gcp.storage.BucketIAMMember("state", {
    bucket: `${project}-pulumi-state`,
    role: "roles/storage.objectUser",
    member: pulumi.interpolate`serviceAccount:${deployer.email}`,
  }, opts);

  return { workloadIdentityProvider: provider.name, serviceAccountEmail: deployer.email };
}
