{%- set i = infra() -%}
{%- set plan = pipeline().plan_identity -%}
{#- One trust document per identity: the platform's OIDC tokens with our audience and the identity's subjects. #}
{%- macro web_identity_trust(label, subjects, count='') -%}
data "aws_iam_policy_document" "{{ label }}" {
{%- if count %}
  count = {{ count }}
{% endif %}
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:aud"
      values   = [var.audience]
    }

    condition {
      test     = "StringLike"
      variable = "${local.issuer_host}:sub"
      values   = {{ subjects }}
    }
  }
}
{%- endmacro -%}
# The CI's federated identities: OIDC tokens assume a deploy role (deploy jobs) or a read-only plan role
# (pull-request plan jobs); no access keys exist.
data "aws_caller_identity" "current" {}

resource "aws_iam_openid_connect_provider" "ci" {
  count          = var.create_provider ? 1 : 0
  url            = var.issuer_url
  client_id_list = [var.audience]
}

data "aws_iam_openid_connect_provider" "ci" {
  count = var.create_provider ? 0 : 1
  url   = var.issuer_url
}

locals {
  provider_arn  = var.create_provider ? aws_iam_openid_connect_provider.ci[0].arn : data.aws_iam_openid_connect_provider.ci[0].arn
  issuer_host   = replace(var.issuer_url, "https://", "")
}

{{ web_identity_trust('assume', 'var.subjects') }}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-deploy"
  description          = "Assumed by CI deploy jobs of ${var.name} through OIDC"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600
}

# What a deploy needs: push images, roll services, read Terraform state; scoped to this project's names.
data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
    ]
    resources = ["arn:aws:ecr:*:${data.aws_caller_identity.current.account_id}:repository/{{ i.slug }}*"]
  }

  statement {
    sid = "Deploy"
    actions = [
      "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:UpdateService",
      "ecs:ListTasks", "ecs:DescribeTasks", "ecs:RunTask",
      "apprunner:StartDeployment", "apprunner:DescribeService", "apprunner:UpdateService", "apprunner:ListOperations",
      "lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:UpdateAlias", "lambda:GetAlias", "lambda:GetFunction",
      "eks:DescribeCluster",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/project"
      values   = ["{{ i.slug }}"]
    }
  }

{%- if deploy_target == 'aws_ecs_fargate' and i.progressive %}

  # Blue/green and canary deploys of the ECS web service go through CodeDeploy (scripts/deploy.sh).
  statement {
    sid = "CodeDeploy"
    actions = [
      "codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:GetDeploymentTarget",
      "codedeploy:StopDeployment", "codedeploy:ListDeployments", "codedeploy:GetDeploymentConfig",
      "codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision",
    ]
    resources = [
      "arn:aws:codedeploy:*:${data.aws_caller_identity.current.account_id}:application:${var.name}",
      "arn:aws:codedeploy:*:${data.aws_caller_identity.current.account_id}:deploymentgroup:${var.name}/*",
      "arn:aws:codedeploy:*:${data.aws_caller_identity.current.account_id}:deploymentconfig:*",
    ]
  }

  # ContinueDeployment has no resource-level permission: it only releases a deployment waiting for its smoke test.
  statement {
    sid       = "CodeDeployContinue"
    actions   = ["codedeploy:ContinueDeployment"]
    resources = ["*"]
  }
{%- endif %}

  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${var.name}-*"]
  }

  statement {
    sid       = "TerraformState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = ["arn:aws:s3:::{{ i.slug }}-tfstate", "arn:aws:s3:::{{ i.slug }}-tfstate/*"]
  }

  statement {
    sid       = "ReadDeploySecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secret_arn]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

# The deploy job runs terraform apply first: it refreshes and changes every resource of this environment's stack
# (VPC, database, cache, KMS, logs, load balancer, services, ...). PowerUserAccess covers every service except IAM,
# Organizations and Account; IAM changes are limited to this environment's names (<project>-<environment>-*), to
# attaching the AWS policies the stack uses, and to service-linked roles. Give each environment its own AWS account
# to keep one environment's deploy identity away from the others (docs/infrastructure.md, "CI identities").
resource "aws_iam_role_policy_attachment" "deploy_apply" {
  role       = aws_iam_role.deploy.name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}

data "aws_iam_policy_document" "deploy_iam" {
  statement {
    sid       = "ReadIam"
    actions   = ["iam:Get*", "iam:List*"]
    resources = ["*"]
  }

  statement {
    sid = "StackRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
      "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PassRole",
      "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
      "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
      "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
    ]
    resources = [
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${var.name}-*",
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/${var.name}-*",
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:instance-profile/${var.name}-*",
    ]
  }

  # Attach only the AWS managed policies the stack uses (and this environment's own policies), never an admin policy.
  statement {
    sid       = "StackRolePolicies"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${var.name}-*"]

    condition {
      test     = "ArnLike"
      variable = "iam:PolicyARN"
      values = [
        "arn:aws:iam::aws:policy/service-role/*", "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS",
        "arn:aws:iam::aws:policy/AmazonEKS*", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/PowerUserAccess",
        "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/${var.name}-*",
      ]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/*"]
  }

  # The CI's OIDC provider (created by the environment with create_provider).
  statement {
    sid = "CiOidcProvider"
    actions = [
      "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
      "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
      "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider",
    ]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.issuer_host}"]
  }
}

resource "aws_iam_role_policy" "deploy_iam" {
  name   = "deploy-iam"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy_iam.json
}
{%- if plan %}

# The pull-request plan jobs' identity: it reads everything terraform plan refreshes and the state, and may
# only take and release the state lock (the S3 lockfile <key>.tflock); it cannot change any resource.
{{ web_identity_trust('assume_plan', 'var.plan_subjects') }}

resource "aws_iam_role" "plan" {
  name                 = "${var.name}-plan"
  description          = "Assumed by CI pull-request plan jobs of ${var.name} through OIDC (read-only)"
  assume_role_policy   = data.aws_iam_policy_document.assume_plan.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "ReadTerraformState"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["arn:aws:s3:::{{ i.slug }}-tfstate", "arn:aws:s3:::{{ i.slug }}-tfstate/*"]
  }

  statement {
    sid       = "StateLockfile"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:aws:s3:::{{ i.slug }}-tfstate/*.tflock"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}
{%- endif %}
{%- if i.oidc_preview_subjects %}

# The preview jobs' identity (created by the environment the root passes preview_subjects to): it creates and destroys
# whole <project>-pr-<number> stacks, so it holds PowerUserAccess with IAM limited to <project>-pr-* names, its state
# under the workspace prefix preview/ only, and guardrails that keep it off every other environment (deny below).
# Run previews in an AWS account of their own for isolation (docs/infrastructure.md, "CI identities").
locals {
  preview = length(var.preview_subjects) > 0
}

{{ web_identity_trust('assume_preview', 'var.preview_subjects', count='local.preview ? 1 : 0') }}

resource "aws_iam_role" "preview" {
  count                = local.preview ? 1 : 0
  name                 = "${var.name}-preview"
  description          = "Assumed by CI preview jobs of {{ i.slug }} through OIDC: creates and destroys {{ i.slug }}-pr-* stacks"
  assume_role_policy   = data.aws_iam_policy_document.assume_preview[0].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "preview_apply" {
  count      = local.preview ? 1 : 0
  role       = aws_iam_role.preview[0].name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}

data "aws_iam_policy_document" "preview" {
  count = local.preview ? 1 : 0

  statement {
    sid       = "PreviewState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:aws:s3:::{{ i.slug }}-tfstate/preview/*"]
  }

  statement {
    sid       = "ListPreviewWorkspaces"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::{{ i.slug }}-tfstate"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["preview/*"]
    }
  }

  statement {
    sid       = "ReadIam"
    actions   = ["iam:Get*", "iam:List*"]
    resources = ["*"]
  }

  statement {
    sid = "PreviewRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
      "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PassRole",
      "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
    ]
    resources = [
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/{{ i.slug }}-pr-*",
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/{{ i.slug }}-pr-*",
    ]
  }

  statement {
    sid       = "PreviewRolePolicies"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/{{ i.slug }}-pr-*"]

    condition {
      test     = "ArnLike"
      variable = "iam:PolicyARN"
      values = [
        "arn:aws:iam::aws:policy/service-role/*", "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS",
        "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/{{ i.slug }}-pr-*",
      ]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/*"]
  }
}

resource "aws_iam_role_policy" "preview" {
  count  = local.preview ? 1 : 0
  name   = "preview"
  role   = aws_iam_role.preview[0].id
  policy = data.aws_iam_policy_document.preview[0].json
}

# Guardrails: explicit denies win over PowerUserAccess.
data "aws_iam_policy_document" "preview_guardrails" {
  count = local.preview ? 1 : 0

  # The other environments' state (it holds their secrets) and the state bucket's settings.
  statement {
    sid     = "OtherEnvironmentsState"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
{%- for e in i.environments %}
      "arn:aws:s3:::{{ i.slug }}-tfstate/{{ e.name }}/*",
{%- endfor %}
    ]
  }

  statement {
    sid       = "StateBucketSettings"
    effect    = "Deny"
    actions   = ["s3:DeleteBucket*", "s3:PutBucket*", "s3:PutLifecycleConfiguration", "s3:PutEncryptionConfiguration", "s3:PutReplicationConfiguration"]
    resources = ["arn:aws:s3:::{{ i.slug }}-tfstate"]
  }

  # The other environments' application secrets.
  statement {
    sid     = "OtherEnvironmentsSecrets"
    effect  = "Deny"
    actions = ["secretsmanager:*"]
    resources = [
{%- for e in i.environments %}
      "arn:aws:secretsmanager:*:${data.aws_caller_identity.current.account_id}:secret:{{ i.slug }}/{{ e.name }}-*",
{%- endfor %}
    ]
  }

  # Resources tagged for another environment (default_tags of every root): no change, no data access.
  statement {
    sid    = "OtherEnvironmentsResources"
    effect = "Deny"
    actions = [
{%- for actions in i.fact('cloud_provider', 'preview_guard_actions') | batch(6) %}
      {{ actions | map('tojson') | join(', ') }},
{%- endfor %}
    ]
    resources = ["*"]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/environment"
      values   = ["false"]
    }

    condition {
      test     = "StringNotLike"
      variable = "aws:ResourceTag/environment"
      values   = ["pr-*"]
    }
  }

  # Nothing it creates or tags may claim another environment or project.
  statement {
    sid       = "ForeignEnvironmentTags"
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/environment"
      values   = ["false"]
    }

    condition {
      test     = "StringNotLike"
      variable = "aws:RequestTag/environment"
      values   = ["pr-*"]
    }
  }

  statement {
    sid       = "ForeignProjectTags"
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/project"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:RequestTag/project"
      values   = ["{{ i.slug }}"]
    }
  }

  # No role chaining: it cannot become the roles it creates for the preview's services.
  statement {
    sid       = "NoRoleChaining"
    effect    = "Deny"
    actions   = ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "preview_guardrails" {
  count  = local.preview ? 1 : 0
  name   = "preview-guardrails"
  role   = aws_iam_role.preview[0].id
  policy = data.aws_iam_policy_document.preview_guardrails[0].json
}
{%- endif %}
{%- if container_registry == 'ecr' %}

# The image repository CI pushes to: account-wide like the OIDC provider, created with it.
resource "aws_ecr_repository" "app" {
  count                = var.create_provider ? 1 : 0
  name                 = "{{ i.slug }}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "app" {
  count      = var.create_provider ? 1 : 0
  repository = aws_ecr_repository.app[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 100 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 100 }
      action       = { type = "expire" }
    }]
  })
}
{%- endif %}
