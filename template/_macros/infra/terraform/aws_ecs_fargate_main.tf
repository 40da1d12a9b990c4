{%- from 'template/_macros/infra/terraform/blocks.jinja' import assume_role, read_secret, certificate with context -%}
{%- set i = infra() -%}
{%- set shifting = i.progressive -%}
# ECS Fargate: cluster, web service behind an HTTPS load balancer, {% if has_worker %}worker service, {% endif %}autoscaling,
# least-privilege task roles, encrypted logs.
{%- if shifting %}
# The web service deploys blue/green through CodeDeploy ({{ deployment_strategy | replace('_', ' ') }}): the new task set starts
# behind the test listener, then production traffic shifts to it and CodeDeploy rolls back on failure{% if rollback_automation == 'metric_based' %} or alarm{% endif %}.
# var.traffic_shifting = false rolls it with the deployment circuit breaker instead{% if has_worker %}; the worker always rolls{% endif %}.
{%- else %}
# Deployments roll with the circuit breaker and roll back on failure.
{%- endif %}
data "aws_region" "current" {}

data "aws_route53_zone" "this" {
  name = var.zone_name
}

locals {
  secret_names = {{ to_json(i.secret_names) }}
  secrets = [for key in local.secret_names : {
    name      = key
    valueFrom = "${var.secret_arn}:${key}::"
  }]
  logging = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = data.aws_region.current.region
      awslogs-stream-prefix = "app"
    }
  }
  container = {
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "{{ i.language.uid }}:{{ i.language.uid }}"
    environment = [
      { name = "APP_ENV", value = var.environment },
      { name = "PORT", value = tostring(var.port) },
    ]
    secrets          = local.secrets
    logConfiguration = local.logging
    mountPoints      = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
}

{{ assume_role('tasks_assume', 'ecs-tasks.amazonaws.com') }}

# Execution role: pull the image, write logs, read this environment's secret.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

{{ read_secret('aws_iam_role.execution.id') }}

# Task role: what the application itself may call (nothing until it needs something).
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
}

resource "aws_ecs_task_definition" "web" {
  family                   = "${var.name}-web"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.container, {
    name         = "web"
    portMappings = [{ containerPort = var.port, protocol = "tcp" }]
{%- if graceful_shutdown %}
    stopTimeout  = {{ [shutdown_timeout_seconds, 120] | min }}
{%- endif %}
  })])
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "HTTPS from the internet to the load balancer"
  vpc_id      = var.vpc_id

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "HTTP, redirected to HTTPS"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
{%- if shifting %}

  dynamic "ingress" {
    for_each = var.traffic_shifting ? [var.test_listener_port] : []
    content {
      description = "HTTPS test listener: the new version before production traffic shifts to it"
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = var.test_listener_cidr_blocks
    }
  }
{%- endif %}

  egress {
    description = "To the application in the VPC"
    from_port   = var.port
    to_port     = var.port
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_security_group" "app" {
  name        = "${var.name}-app"
  description = "The application: traffic from the load balancer only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "From the load balancer"
    from_port       = var.port
    to_port         = var.port
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  egress {
    description = "HTTPS APIs (secrets, registry, third parties)"
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

resource "aws_s3_bucket" "alb_logs" {
  bucket        = "${var.name}-alb-logs"
  force_destroy = !var.deletion_protection
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  bucket                  = aws_s3_bucket.alb_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  rule {
    id     = "expire"
    status = "Enabled"

    filter {}

    expiration {
      days = 90
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_elb_service_account" "this" {}

data "aws_iam_policy_document" "alb_logs" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.alb_logs.arn}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  policy = data.aws_iam_policy_document.alb_logs.json
}

resource "aws_lb" "this" {
  name                       = substr(var.name, 0, 32)
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = aws_s3_bucket.alb_logs.id
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.alb_logs]
}

# AWS managed rules in front of the load balancer: common exploits and known bad inputs.
resource "aws_wafv2_web_acl" "this" {
  name  = var.name
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  dynamic "rule" {
    for_each = { AWSManagedRulesCommonRuleSet = 1, AWSManagedRulesKnownBadInputsRuleSet = 2 }
    content {
      name     = rule.key
      priority = rule.value

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          name        = rule.key
          vendor_name = "AWS"
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = rule.key
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
}

resource "aws_wafv2_web_acl_association" "this" {
  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn
}

resource "aws_lb_target_group" "web" {
  name                 = substr("${var.name}-web", 0, 32)
  port                 = var.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = {{ shutdown_timeout_seconds if graceful_shutdown else 30 }}

  health_check {
    path                = var.health_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}
{%- if shifting %}

# Blue/green: CodeDeploy alternates the web service's task sets between the two target groups
# ("web" is blue on the first deploy, "green" takes the next version).
resource "aws_lb_target_group" "green" {
  count                = var.traffic_shifting ? 1 : 0
  name                 = "${substr(var.name, 0, 26)}-green"
  port                 = var.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = {{ shutdown_timeout_seconds if graceful_shutdown else 30 }}

  health_check {
    path                = var.health_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}
{%- endif %}

{{ certificate() }}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.this.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
{%- if shifting %}

  # CodeDeploy switches the forwarded target group on every deploy.
  lifecycle {
    ignore_changes = [default_action]
  }
{%- endif %}
}
{%- if shifting %}

# Test listener: scripts/deploy.sh smoke-tests the new task set here before production traffic moves.
# It starts on the green target group (where the first replacement task set goes); CodeDeploy rewires it after that.
resource "aws_lb_listener" "test" {
  count             = var.traffic_shifting ? 1 : 0
  load_balancer_arn = aws_lb.this.arn
  port              = var.test_listener_port
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.this.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.green[0].arn
  }

  lifecycle {
    ignore_changes = [default_action]
  }
}
{%- endif %}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_route53_record" "app" {
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.host
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}

resource "aws_ecs_service" "web" {
  name                               = "web"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.web.arn
  desired_count                      = var.min_instances
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  propagate_tags                     = "SERVICE"
{%- if shifting %}

  # ECS cannot switch a service's controller in place: changing traffic_shifting replaces the service.
  deployment_controller {
    type = var.traffic_shifting ? "CODE_DEPLOY" : "ECS"
  }

  # The circuit breaker belongs to the ECS controller; CodeDeploy rolls back blue/green deployments itself.
  dynamic "deployment_circuit_breaker" {
    for_each = var.traffic_shifting ? [] : [true]
    content {
      enable   = true
      rollback = true
    }
  }
{%- else %}

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
{%- endif %}

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = var.port
  }

{%- if shifting %}

  # CI deploys new task definitions (scripts/deploy.sh) and CodeDeploy moves the service between the
  # blue and green target groups; autoscaling owns the count.
  lifecycle {
    ignore_changes = [task_definition, load_balancer, desired_count]
  }
{%- else %}

  # CI deploys new task definitions (scripts/deploy.sh); autoscaling owns the count.
  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }
{%- endif %}

  depends_on = [aws_lb_listener.https]
}
{%- if shifting %}
{%- include 'template/_macros/infra/terraform/aws_ecs_fargate_codedeploy.tf' %}
{%- endif %}

resource "aws_appautoscaling_target" "web" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.web.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_instances
  max_capacity       = var.max_instances
}

resource "aws_appautoscaling_policy" "web_cpu" {
  name               = "${var.name}-web-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.cpu_target

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_ecs_task_definition" "worker" {
  count                    = length(var.worker_command) > 0 ? 1 : 0
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.container, {
    name    = "worker"
    command = var.worker_command
  })])
}

resource "aws_ecs_service" "worker" {
  count           = length(var.worker_command) > 0 ? 1 : 0
  name            = "worker"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.worker[0].arn
  desired_count   = var.min_instances
  launch_type     = "FARGATE"
  propagate_tags  = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  lifecycle {
    ignore_changes = [task_definition]
  }
}
