{%- set i = infra() -%}
// The CI's federated identity: its OIDC tokens assume a deploy role, no access keys exist. The trust is
// terraform/modules/ci_oidc's: the CI's issuer, the audience its jobs request, this environment's deploy subjects.
// The account-wide OIDC provider{% if container_registry == 'ecr' %} and image repository{% endif %} live in the stack with createOidcProvider.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { identity } from "./aws";
import { ciIdentity, createOidcProvider, name, project } from "./config";
import { kmsKey, secret } from "./data";
import { invokeOpts, opts } from "./provider";

export interface CiOidc {
  deployRoleArn: pulumi.Output<string>;
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
    assumeRolePolicy: providerArn.apply((arn) => JSON.stringify({
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
    })),
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

  return { deployRoleArn: role.arn };
}
