{%- from 'template/_macros/infra/terraform/blocks.jinja' import assume_role, read_secret, certificate with context -%}
{%- set i = infra() -%}
{%- set runtime = catalog.fact('app_language', app_language, 'lambda_runtime') -%}
{%- set handler = catalog.fact('app_language', app_language, 'lambda_handler') -%}
{%- set architecture = catalog.fact('deploy_target', 'aws_lambda', 'lambda_architecture') -%}
# AWS Lambda behind an HTTP API: the function runs the code package scripts/deploy.sh uploads and
# publishes (scripts/package.sh builds it), the "live" alias receives traffic (CodeDeploy-style shifting by scripts/deploy.sh),
# logs are encrypted, the custom domain has its own certificate.
data "aws_region" "current" {}

data "aws_route53_zone" "this" {
  name = var.zone_name
}

resource "aws_s3_bucket" "artifacts" {
  bucket = "${var.name}-artifacts"
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    id     = "expire-old-packages"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

{{ assume_role('assume', 'lambda.amazonaws.com') }}

resource "aws_iam_role" "function" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "vpc" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

{{ read_secret('aws_iam_role.function.id') }}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
}

resource "aws_security_group" "function" {
  name        = "${var.name}-lambda"
  description = "The function: outbound HTTPS and VPC data services"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "Database and cache inside the VPC"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_sqs_queue" "dead_letters" {
  name              = "${var.name}-dead-letters"
  kms_master_key_id = var.kms_key_arn
}

# Creating a function needs code: the first apply starts from this placeholder (a zip holding a text file),
# then scripts/deploy.sh publishes the real package and moves the alias (s3_key changes are ignored below).
resource "aws_s3_object" "bootstrap" {
  bucket         = aws_s3_bucket.artifacts.id
  key            = "bootstrap/placeholder.zip"
  content_base64 = "UEsDBBQAAAAAAAAAIQBLQmqtRwAAAEcAAAAPAAAAUExBQ0VIT0xERVIudHh0UGxhY2Vob2xkZXIgY29kZTogc2NyaXB0cy9kZXBsb3kuc2ggcHVibGlzaGVzIHRoZSBhcHBsaWNhdGlvbiBwYWNrYWdlLgpQSwECFAMUAAAAAAAAACEAS0JqrUcAAABHAAAADwAAAAAAAAAAAAAAgAEAAAAAUExBQ0VIT0xERVIudHh0UEsFBgAAAAABAAEAPQAAAHQAAAAAAA=="
  kms_key_id     = var.kms_key_arn
}

resource "aws_lambda_function" "this" {
  function_name                  = var.name
  role                           = aws_iam_role.function.arn
  runtime                        = "{{ runtime }}"
  handler                        = "{{ handler }}"
  architectures                  = ["{{ architecture }}"]
  s3_bucket                      = aws_s3_bucket.artifacts.id
  s3_key                         = aws_s3_object.bootstrap.key
  memory_size                    = var.memory
  timeout                        = 30
  publish                        = true
  reserved_concurrent_executions = var.max_instances * 10
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      APP_ENV    = var.environment
      SECRET_ARN = var.secret_arn
    }
  }

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.function.id]
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letters.arn
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  # scripts/deploy.sh uploads new code and moves the alias.
  lifecycle {
    ignore_changes = [s3_key]
  }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count                             = var.min_instances > 1 ? 1 : 0
  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = var.min_instances
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_alias.live.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  api_id    = aws_apigatewayv2_api.this.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.this.id}"
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", method = "$context.httpMethod",
      path = "$context.path", status = "$context.status", latency = "$context.responseLatency"
    })
  }

  default_route_settings {
    throttling_burst_limit = 500
    throttling_rate_limit  = 1000
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

{{ certificate() }}

resource "aws_apigatewayv2_domain_name" "this" {
  domain_name = var.host

  domain_name_configuration {
    certificate_arn = aws_acm_certificate_validation.this.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this.id
  stage       = aws_apigatewayv2_stage.this.id
}

resource "aws_route53_record" "app" {
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.host
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this.domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
