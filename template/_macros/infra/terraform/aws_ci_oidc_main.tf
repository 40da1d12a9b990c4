{%- set i = infra() -%}
# The CI's federated identity: its OIDC tokens assume a deploy role, no access keys exist.
data "aws_caller_identity" "current" {}

resource "aws_iam_openid_connect_provider" "ci" {
  count          = var.create_provider ? 1 : 0
  url            = var.issuer_url
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_openid_connect_provider" "ci" {
  count = var.create_provider ? 0 : 1
  url   = var.issuer_url
}

locals {
  provider_arn  = var.create_provider ? aws_iam_openid_connect_provider.ci[0].arn : data.aws_iam_openid_connect_provider.ci[0].arn
  issuer_host   = replace(var.issuer_url, "https://", "")
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.issuer_host}:sub"
      values   = [var.subject]
    }
  }
}

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
