{#- CodeDeploy blue/green of the ECS web service (included by aws_ecs_fargate_main.tf when the strategy shifts traffic). -#}
{%- from 'template/_macros/infra/terraform/blocks.jinja' import assume_role with context -%}
{%- from 'template/_macros/infra/aws_ecs_traffic.jinja' import ecs_traffic with context -%}
{%- set steps = infra().canary_steps -%}
{%- set routing = ecs_traffic('type') -%}
{%- set first = ecs_traffic('percentage') -%}
{%- set interval = ecs_traffic('interval') -%}
{%- set metric = rollback_automation == 'metric_based' %}

locals {
  # Blue first, then green: CodeDeploy alternates the service between them on every deploy.
  target_groups = concat([aws_lb_target_group.web], aws_lb_target_group.green)
}
{{ assume_role('codedeploy_assume', 'codedeploy.amazonaws.com') }}

# CodeDeploy's service role: create and shift ECS task sets, rewire the listeners, read the alarms.
resource "aws_iam_role" "codedeploy" {
  count              = var.traffic_shifting ? 1 : 0
  name               = "${var.name}-codedeploy"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume.json
}

resource "aws_iam_role_policy_attachment" "codedeploy" {
  count      = var.traffic_shifting ? 1 : 0
  role       = aws_iam_role.codedeploy[0].name
  policy_arn = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
}

resource "aws_codedeploy_app" "web" {
  count            = var.traffic_shifting ? 1 : 0
  name             = var.name
  compute_platform = "ECS"
}
{%- if routing != 'AllAtOnce' %}

# canary_steps {{ steps | join(', ') }}: {{ ecs_traffic('summary') }}.
# The name carries the values: a change creates the new config before the group lets go of the old one.
resource "aws_codedeploy_deployment_config" "web" {
  count                  = var.traffic_shifting ? 1 : 0
  deployment_config_name = "${var.name}-{{ 'linear' if routing == 'TimeBasedLinear' else 'canary' }}-{{ first }}pct-{{ interval }}min"
  compute_platform       = "ECS"

  traffic_routing_config {
    type = "{{ routing }}"
{%- if routing == 'TimeBasedLinear' %}

    time_based_linear {
      percentage = {{ first }}
      interval   = {{ interval }}
    }
{%- else %}

    time_based_canary {
      percentage = {{ first }}
      interval   = {{ interval }}
    }
{%- endif %}
  }

  lifecycle {
    create_before_destroy = true
  }
}
{%- endif %}
{%- if metric %}

# rollback_automation metric_based: target 5xx above {{ rollback_error_rate_pct }}% of the requests of either target group
# (blue or green, whichever carries the new version) stops the deployment and CodeDeploy rolls back.
resource "aws_cloudwatch_metric_alarm" "deploy_errors" {
  count               = var.traffic_shifting ? length(local.target_groups) : 0
  alarm_name          = "${var.name}-deploy-5xx-${count.index == 0 ? "blue" : "green"}"
  alarm_description   = "5xx responses above {{ rollback_error_rate_pct }}% of requests on ${local.target_groups[count.index].name}: CodeDeploy rolls back"
  comparison_operator = "GreaterThanThreshold"
  threshold           = {{ rollback_error_rate_pct }}
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "error_rate"
    expression  = "IF(requests >= 10, 100 * FILL(errors, 0) / requests, 0)"
    label       = "5xx % of requests"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      period      = 60
      stat        = "Sum"

      dimensions = {
        LoadBalancer = aws_lb.this.arn_suffix
        TargetGroup  = local.target_groups[count.index].arn_suffix
      }
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      period      = 60
      stat        = "Sum"

      dimensions = {
        LoadBalancer = aws_lb.this.arn_suffix
        TargetGroup  = local.target_groups[count.index].arn_suffix
      }
    }
  }
}
{%- endif %}

resource "aws_codedeploy_deployment_group" "web" {
  count                  = var.traffic_shifting ? 1 : 0
  app_name               = aws_codedeploy_app.web[0].name
  deployment_group_name  = "web"
  deployment_config_name = {% if routing == 'AllAtOnce' %}"CodeDeployDefault.ECSAllAtOnce"{% else %}aws_codedeploy_deployment_config.web[0].deployment_config_name{% endif %}
  service_role_arn       = aws_iam_role.codedeploy[0].arn

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"{% if metric %}, "DEPLOYMENT_STOP_ON_ALARM"{% endif %}]
  }
{%- if metric %}

  alarm_configuration {
    enabled = true
    alarms  = aws_cloudwatch_metric_alarm.deploy_errors[*].alarm_name
  }
{%- endif %}

  deployment_style {
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }

  blue_green_deployment_config {
    # The new task set waits behind the test listener until scripts/deploy.sh has smoke-tested it and
    # continues the deployment; without that, CodeDeploy stops (and rolls back) after an hour.
    deployment_ready_option {
      action_on_timeout    = "STOP_DEPLOYMENT"
      wait_time_in_minutes = 60
    }

    # The previous task set stays up after the switch: `scripts/rollback.sh` moves traffic back to it at once.
    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = {{ catalog.fact('deploy_target', 'aws_ecs_fargate', 'blue_termination_wait_minutes') }}
    }
  }

  ecs_service {
    cluster_name = aws_ecs_cluster.this.name
    service_name = aws_ecs_service.web.name
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = [aws_lb_listener.https.arn]
      }

      test_traffic_route {
        listener_arns = [aws_lb_listener.test[0].arn]
      }

      target_group {
        name = aws_lb_target_group.web.name
      }

      target_group {
        name = aws_lb_target_group.green[0].name
      }
    }
  }

  depends_on = [aws_iam_role_policy_attachment.codedeploy]
}
