{%- set i = infra() -%}
{%- set ci = i.program_oidc -%}
// The CI's federated identities: a workload identity pool trusts the CI's OIDC tokens for this environment's deploy
// subjects, which may impersonate the deployer service account{% if ci.plan_subjects %}; a second pool trusts the pull-request plan
// jobs' subjects, which may impersonate the read-only planner{% endif %}. No key file exists. The trust is
// terraform/modules/ci_oidc's: the CI's issuer, the audience its jobs request, the same subject conditions.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { ciIdentity{% if ci.plan_subjects %}, ciPlanIdentity{% endif %}, name, projectId, stateBucket } from "./config";
import { opts } from "./provider";

export interface CiOidc {
  workloadIdentityProvider: pulumi.Output<string>;
  serviceAccountEmail: pulumi.Output<string>;
{%- if ci.plan_subjects %}
  /** CI variables GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER and GCP_PLAN_SERVICE_ACCOUNT (read-only). */
  planWorkloadIdentityProvider: pulumi.Output<string>;
  planServiceAccountEmail: pulumi.Output<string>;
{%- endif %}
}

/** A subject with * (a branch pattern or any user) is an RE2 match, * standing for one path segment; others match exactly. */
function subjectCondition(subject: string): string {
  return subject.includes("*")
    ? `assertion.sub.matches(r'^${subject.replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}$')`
    : `assertion.sub == "${subject}"`;
}
{%- if ci.plan_subjects %}

/** Plan subjects: * also spans "/" (branch names such as feature/x); the planner cannot change anything. */
function planSubjectCondition(subject: string): string {
  return subject.includes("*")
    ? `assertion.sub.matches(r'^${subject.replace(/\./g, "\\.").replace(/\*/g, ".*")}$')`
    : `assertion.sub == "${subject}"`;
}
{%- endif %}

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

  // A self-managed backend's bucket (stateBucket; Pulumi Cloud keeps the state itself): its objects, read and written.
  if (stateBucket) {
    new gcp.storage.BucketIAMMember("state", {
      bucket: stateBucket,
      role: "roles/storage.objectUser",
      member: pulumi.interpolate`serviceAccount:${deployer.email}`,
    }, opts);
  }

{%- if ci.plan_subjects %}

  // The pull-request plan jobs' identity: its own pool (the deployer's binding admits its whole pool), viewer of the
  // project and, with a self-managed backend, reader of the state (`pulumi preview` takes no lock and writes nothing).
  const plan = ciPlanIdentity();
  const planPool = new gcp.iam.WorkloadIdentityPool("plan", {
    workloadIdentityPoolId: `ci-plan-${name}`.slice(0, 32),
    displayName: `CI plan ${name}`.slice(0, 32),
  }, opts);
  const planProvider = new gcp.iam.WorkloadIdentityPoolProvider("plan", {
    workloadIdentityPoolId: planPool.workloadIdentityPoolId,
    workloadIdentityPoolProviderId: "ci",
    attributeMapping: { "google.subject": "assertion.sub" },
    attributeCondition: plan.subjects.map(planSubjectCondition).join(" || "),
    oidc: { issuerUri: plan.issuer, allowedAudiences: plan.audience ? [plan.audience] : undefined },
  }, opts);
  const planner = new gcp.serviceaccount.Account("plan", {
    accountId: `${name}-plan`.slice(0, 30),
    displayName: `CI planner of ${name} (read-only)`,
  }, opts);
  new gcp.serviceaccount.IAMMember("plan", {
    serviceAccountId: planner.name,
    role: "roles/iam.workloadIdentityUser",
    member: pulumi.interpolate`principalSet://iam.googleapis.com/${planPool.name}/*`,
  }, opts);
  new gcp.projects.IAMMember("plan-viewer", {
    project: projectId,
    role: "roles/viewer",
    member: pulumi.interpolate`serviceAccount:${planner.email}`,
  }, opts);
  if (stateBucket) {
    new gcp.storage.BucketIAMMember("plan-state", {
      bucket: stateBucket,
      role: "roles/storage.objectViewer",
      member: pulumi.interpolate`serviceAccount:${planner.email}`,
    }, opts);
  }
{%- endif %}

  return {
    workloadIdentityProvider: provider.name,
    serviceAccountEmail: deployer.email,
{%- if ci.plan_subjects %}
    planWorkloadIdentityProvider: planProvider.name,
    planServiceAccountEmail: planner.email,
{%- endif %}
  };
}
