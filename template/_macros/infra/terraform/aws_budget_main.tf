# Cost alerts (cost_alerts): e-mail at the warning and critical amounts, daily and monthly.
locals {
  budgets = {
    daily   = { unit = "DAILY", warning = var.daily_warning, critical = var.daily_critical }
    monthly = { unit = "MONTHLY", warning = var.monthly_warning, critical = var.monthly_critical }
  }
}

resource "aws_budgets_budget" "this" {
  for_each     = local.budgets
  name         = "${var.name}-${each.key}"
  budget_type  = "COST"
  time_unit    = each.value.unit
  limit_amount = tostring(each.value.critical)
  limit_unit   = "USD"

  cost_filter {
    name   = "TagKeyValue"
    values = ["user:project${{ infra().slug }}"]
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = floor(each.value.warning * 100 / each.value.critical)
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = [var.alert_email]
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = [var.alert_email]
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = [var.alert_email]
  }
}
