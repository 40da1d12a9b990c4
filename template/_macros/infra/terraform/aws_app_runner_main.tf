{%- from 'template/_macros/infra/terraform/blocks.jinja' import assume_role, read_secret with context -%}
{%- set i = infra() -%}
# AWS App Runner: the service pulls the image from ECR, reaches the database through a VPC
# connector, reads this environment's secret, autoscales on concurrency, serves the custom domain.
{{ assume_role('build_assume', 'build.apprunner.amazonaws.com') }}

resource "aws_iam_role" "access" {
  name               = "${var.name}-apprunner-access"
  assume_role_policy = data.aws_iam_policy_document.build_assume.json
}

resource "aws_iam_role_policy_attachment" "access" {
  role       = aws_iam_role.access.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
}

{{ assume_role('tasks_assume', 'tasks.apprunner.amazonaws.com') }}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-apprunner-instance"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

{{ read_secret('aws_iam_role.instance.id') }}

resource "aws_security_group" "connector" {
  name        = "${var.name}-apprunner"
  description = "App Runner VPC connector: outbound to the database and cache"
  vpc_id      = var.vpc_id

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

resource "aws_apprunner_vpc_connector" "this" {
  vpc_connector_name = substr(var.name, 0, 40)
  subnets            = var.private_subnet_ids
  security_groups    = [aws_security_group.connector.id]
}

resource "aws_apprunner_auto_scaling_configuration_version" "this" {
  auto_scaling_configuration_name = substr(var.name, 0, 32)
  min_size                        = var.min_instances
  max_size                        = var.max_instances
  max_concurrency                 = 80
}

resource "aws_apprunner_service" "this" {
  service_name                   = var.name
  auto_scaling_configuration_arn = aws_apprunner_auto_scaling_configuration_version.this.arn

  source_configuration {
    auto_deployments_enabled = false

    authentication_configuration {
      access_role_arn = aws_iam_role.access.arn
    }

    image_repository {
      image_identifier      = var.image
      image_repository_type = "ECR"

      image_configuration {
        port = tostring(var.port)
        runtime_environment_variables = {
          APP_ENV = var.environment
        }
        runtime_environment_secrets = { for key in {{ to_json(i.secret_names) }} : key => "${var.secret_arn}:${key}::" }
      }
    }
  }

  instance_configuration {
    cpu               = tostring(var.cpu)
    memory            = tostring(var.memory)
    instance_role_arn = aws_iam_role.instance.arn
  }

  health_check_configuration {
    protocol            = "HTTP"
    path                = var.health_path
    interval            = 10
    healthy_threshold   = 1
    unhealthy_threshold = 3
  }

  network_configuration {
    egress_configuration {
      egress_type       = "VPC"
      vpc_connector_arn = aws_apprunner_vpc_connector.this.arn
    }
  }

  encryption_configuration {
    kms_key = var.kms_key_arn
  }

  # scripts/deploy.sh points the service at each new image (aws apprunner update-service).
  lifecycle {
    ignore_changes = [source_configuration[0].image_repository[0].image_identifier]
  }
}

resource "aws_apprunner_custom_domain_association" "this" {
  domain_name          = var.host
  service_arn          = aws_apprunner_service.this.arn
  enable_www_subdomain = false
}
