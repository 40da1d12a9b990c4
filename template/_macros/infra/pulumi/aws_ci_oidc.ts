{%- set i = infra() -%}
{%- set ci = i.program_oidc -%}
// The CI's federated identities: OIDC tokens assume the deploy role (deploy jobs){% if ci.plan_subjects %}, the read-only plan role
// (pull-request plan jobs){% endif %}{% if ci.preview_subjects %} or, created by the {{ ci.preview_host }} stack, the preview role (pr-<number> stacks){% endif %};
// no access keys exist. The trust is terraform/modules/ci_oidc's: the CI's issuer, the audience its jobs request,
// each identity's subjects. The account-wide OIDC provider{% if container_registry == 'ecr' %} and image repository{% endif %} live in the stack with createOidcProvider.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { identity } from "./aws";
import { ciIdentity{% if ci.plan_subjects %}, ciPlanIdentity{% endif %}{% if ci.preview_subjects %}, ciPreviewIdentity{% endif %}, createOidcProvider, name, project } from "./config";
import { kmsKey, secret } from "./data";
import { invokeOpts, opts } from "./provider";

export interface CiOidc {
  deployRoleArn: pulumi.Output<string>;
{%- if ci.plan_subjects %}
  /** CI variable AWS_PLAN_ROLE_ARN. */
  planRoleArn: pulumi.Output<string>;
{%- endif %}
{%- if ci.preview_subjects %}
  /** CI variable AWS_PREVIEW_ROLE_ARN: only the {{ ci.preview_host }} stack creates the preview role. */
  previewRoleArn?: pulumi.Output<string>;
{%- endif %}
}

/** The trust policy of one identity: the CI's tokens with our audience and one of the identity's subjects (StringLike). */
function webIdentityTrust(providerArn: pulumi.Output<string>, issuerHost: string, audience: string, subjects: string[]): pulumi.Output<string> {
  return providerArn.apply((arn) => JSON.stringify({
    Version: "2012-10-17",
    Statement: [{
      Effect: "Allow",
      Principal: { Federated: arn },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: {
        StringEquals: { [`${issuerHost}:aud`]: audience },
        StringLike: { [`${issuerHost}:sub`]: subjects },
      },
    }],
  }));
}

export function ciOidc(): CiOidc {
  const { issuer: oidcIssuer, audience, subjects } = ciIdentity();
  const providerArn: pulumi.Output<string> = createOidcProvider
    ? new aws.iam.OpenIdConnectProvider("ci", { url: oidcIssuer, clientIdLists: [audience] }, opts).arn
    : aws.iam.getOpenIdConnectProviderOutput({ url: oidcIssuer }, invokeOpts).arn;
  const issuerHost = oidcIssuer.replace("https://", "");

  const role = new aws.iam.Role("deploy", {
    name: `${name}-deploy`,
    description: `Assumed by CI deploy jobs of ${name} through OIDC`,
    maxSessionDuration: 3600,
    assumeRolePolicy: webIdentityTrust(providerArn, issuerHost, audience, subjects),
  }, opts);

  // The deploy job runs `pulumi up` as this role: PowerUserAccess for the stack's resources (every service but
  // IAM and Organizations), IAM only on this project's roles and the CI's OIDC provider (DeployIam below).
  new aws.iam.RolePolicyAttachment("deploy-power-user", {
    role: role.name,
    policyArn: "arn:aws:iam::aws:policy/PowerUserAccess",
  }, opts);

  // What the deploy scripts need: push images, roll services, read the state; scoped to this project's names.
  new aws.iam.RolePolicy("deploy", {
    name: "deploy",
    role: role.id,
    policy: pulumi.all([identity.accountId, secret.arn, kmsKey.arn]).apply(([account, secretArn, keyArn]) => JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        { Sid: "RegistryLogin", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
        {
          Sid: "PushImages",
          Effect: "Allow",
          Action: [
            "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
            "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
          ],
          Resource: `arn:aws:ecr:*:${account}:repository/${project}*`,
        },
        {
          Sid: "Deploy",
          Effect: "Allow",
          Action: [
            "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:UpdateService",
            "ecs:ListTasks", "ecs:DescribeTasks", "ecs:RunTask",
            "apprunner:StartDeployment", "apprunner:DescribeService", "apprunner:UpdateService", "apprunner:ListOperations",
            "lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:UpdateAlias", "lambda:GetAlias", "lambda:GetFunction",
            "eks:DescribeCluster",
          ],
          Resource: "*",
          Condition: { StringEquals: { "aws:ResourceTag/project": project } },
        },
        { Sid: "PassTaskRoles", Effect: "Allow", Action: ["iam:PassRole"], Resource: `arn:aws:iam::${account}:role/${name}-*` },
        {
          Sid: "DeployIam",
          Effect: "Allow",
          Action: [
            "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy",
            "iam:ListRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
          ],
          Resource: `arn:aws:iam::${account}:role/${project}-*`,
        },
        {
          Sid: "CiOidcProvider",
          Effect: "Allow",
          Action: [
            "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
            "iam:TagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
          ],
          Resource: `arn:aws:iam::${account}:oidc-provider/${issuerHost}`,
        },
        { Sid: "ListOidcProviders", Effect: "Allow", Action: ["iam:ListOpenIDConnectProviders"], Resource: "*" },
        {
          Sid: "ServiceLinkedRoles",
          Effect: "Allow",
          Action: ["iam:CreateServiceLinkedRole"],
          Resource: `arn:aws:iam::${account}:role/aws-service-role/*`,
        },
        {
          Sid: "PulumiState",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
          Resource: [`arn:aws:s3:::${project}-pulumi-state`, `arn:aws:s3:::${project}-pulumi-state/*`],
        },
        { Sid: "ReadDeploySecret", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: secretArn },
        { Sid: "DecryptDeploySecret", Effect: "Allow", Action: ["kms:Decrypt"], Resource: keyArn },
      ],
    })),
  }, opts);
{%- if container_registry == 'ecr' %}

  // The image repository CI pushes to: account-wide like the OIDC provider, created with it.
  if (createOidcProvider) {
    const repository = new aws.ecr.Repository("app", {
      name: project,
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: "KMS" }],
    }, opts);
    new aws.ecr.LifecyclePolicy("app", {
      repository: repository.name,
      policy: JSON.stringify({
        rules: [{
          rulePriority: 1,
          description: "Keep the last 100 images",
          selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 100 },
          action: { type: "expire" },
        }],
      }),
    }, opts);
  }
{%- endif %}

{%- if ci.plan_subjects %}

  // The pull-request plan jobs' identity: `pulumi preview` reads every resource of the stack (ReadOnlyAccess) and,
  // with a self-managed backend, the state and the stack's secrets key; a preview takes no lock and writes nothing.
  const plan = ciPlanIdentity();
  const planRole = new aws.iam.Role("plan", {
    name: `${name}-plan`,
    description: `Assumed by CI pull-request plan jobs of ${name} through OIDC (read-only)`,
    maxSessionDuration: 3600,
    assumeRolePolicy: webIdentityTrust(providerArn, issuerHost, plan.audience, plan.subjects),
  }, opts);
  new aws.iam.RolePolicyAttachment("plan-read-only", {
    role: planRole.name,
    policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess",
  }, opts);
  new aws.iam.RolePolicy("plan", {
    name: "plan",
    role: planRole.id,
    policy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ReadPulumiState",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:ListBucket"],
          Resource: [`arn:aws:s3:::${project}-pulumi-state`, `arn:aws:s3:::${project}-pulumi-state/*`],
        },
        {
          // awskms://alias/<project>-pulumi (docs/infrastructure.md): the stacks' secrets provider
          Sid: "DecryptPulumiSecrets",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: "*",
          Condition: { "ForAnyValue:StringEquals": { "kms:ResourceAliases": `alias/${project}-pulumi` } },
        },
      ],
    }),
  }, opts);
{%- endif %}
{%- if ci.preview_subjects %}

  // The preview jobs' identity, created by the {{ ci.preview_host }} stack only: it creates and destroys whole
  // <project>-pr-<number> stacks, so it holds PowerUserAccess with IAM limited to <project>-pr-* names, and guardrails
  // (explicit denies) that keep it off every other environment. Run previews in an AWS account of their own.
  const previewTrust = ciPreviewIdentity();
  let previewRole: aws.iam.Role | undefined;
  if (previewTrust) {
    previewRole = new aws.iam.Role("preview", {
      name: `${name}-preview`,
      description: `Assumed by CI preview jobs of ${project} through OIDC: creates and destroys ${project}-pr-* stacks`,
      maxSessionDuration: 3600,
      assumeRolePolicy: webIdentityTrust(providerArn, issuerHost, previewTrust.audience, previewTrust.subjects),
    }, opts);
    new aws.iam.RolePolicyAttachment("preview-apply", {
      role: previewRole.name,
      policyArn: "arn:aws:iam::aws:policy/PowerUserAccess",
    }, opts);
    new aws.iam.RolePolicy("preview", {
      name: "preview",
      role: previewRole.id,
      policy: identity.accountId.apply((account) => JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ReadIam", Effect: "Allow", Action: ["iam:Get*", "iam:List*"], Resource: "*" },
          {
            Sid: "PreviewRoles",
            Effect: "Allow",
            Action: [
              "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
              "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PassRole",
              "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
            ],
            Resource: [`arn:aws:iam::${account}:role/${project}-pr-*`, `arn:aws:iam::${account}:policy/${project}-pr-*`],
          },
          {
            Sid: "PreviewRolePolicies",
            Effect: "Allow",
            Action: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            Resource: `arn:aws:iam::${account}:role/${project}-pr-*`,
            Condition: {
              ArnLike: {
                "iam:PolicyARN": [
                  "arn:aws:iam::aws:policy/service-role/*", "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS",
                  `arn:aws:iam::${account}:policy/${project}-pr-*`,
                ],
              },
            },
          },
          {
            Sid: "ServiceLinkedRoles",
            Effect: "Allow",
            Action: ["iam:CreateServiceLinkedRole"],
            Resource: `arn:aws:iam::${account}:role/aws-service-role/*`,
          },
        ],
      })),
    }, opts);
    // Guardrails: explicit denies win over PowerUserAccess.
    new aws.iam.RolePolicy("preview-guardrails", {
      name: "preview-guardrails",
      role: previewRole.id,
      policy: identity.accountId.apply((account) => JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            // a self-managed backend: the other stacks' state, history, backups and locks (.pulumi/<kind>/.../<stack>)
            Sid: "OtherEnvironmentsState",
            Effect: "Deny",
            Action: ["s3:*"],
            Resource: [
{%- for e in i.deployed_environments %}
              `arn:aws:s3:::${project}-pulumi-state/.pulumi/*/${project}/{{ e.name }}*`,
{%- endfor %}
            ],
          },
          {
            Sid: "StateBucketSettings",
            Effect: "Deny",
            Action: [
              "s3:DeleteBucket*", "s3:PutBucket*", "s3:PutLifecycleConfiguration", "s3:PutEncryptionConfiguration",
              "s3:PutReplicationConfiguration",
            ],
            Resource: `arn:aws:s3:::${project}-pulumi-state`,
          },
          {
            Sid: "OtherEnvironmentsSecrets",
            Effect: "Deny",
            Action: ["secretsmanager:*"],
            Resource: [
{%- for e in i.environments %}
              `arn:aws:secretsmanager:*:${account}:secret:${project}/{{ e.name }}-*`,
{%- endfor %}
            ],
          },
          {
            // resources tagged for another environment (every stack's tags): no change, no data access
            Sid: "OtherEnvironmentsResources",
            Effect: "Deny",
            Action: [
{%- for actions in i.fact('cloud_provider', 'preview_guard_actions') | batch(6) %}
              {{ actions | map('tojson') | join(', ') }},
{%- endfor %}
            ],
            Resource: "*",
            Condition: {
              Null: { "aws:ResourceTag/environment": "false" },
              StringNotLike: { "aws:ResourceTag/environment": "pr-*" },
            },
          },
          {
            // nothing it creates or tags may claim another environment or project
            Sid: "ForeignEnvironmentTags",
            Effect: "Deny",
            Action: "*",
            Resource: "*",
            Condition: {
              Null: { "aws:RequestTag/environment": "false" },
              StringNotLike: { "aws:RequestTag/environment": "pr-*" },
            },
          },
          {
            Sid: "ForeignProjectTags",
            Effect: "Deny",
            Action: "*",
            Resource: "*",
            Condition: {
              Null: { "aws:RequestTag/project": "false" },
              StringNotEquals: { "aws:RequestTag/project": project },
            },
          },
          {
            // no role chaining: it cannot become the roles it creates for the preview's services
            Sid: "NoRoleChaining",
            Effect: "Deny",
            Action: ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"],
            Resource: "*",
          },
        ],
      })),
    }, opts);
  }
{%- endif %}

  return {
    deployRoleArn: role.arn,
{%- if ci.plan_subjects %}
    planRoleArn: planRole.arn,
{%- endif %}
{%- if ci.preview_subjects %}
    previewRoleArn: previewRole?.arn,
{%- endif %}
  };
}
