# Cost alerts (cost_alerts): a monthly budget on the environment's resource group (Azure budgets
# are monthly, quarterly or yearly), e-mail at the warning and critical amounts.
resource "azurerm_consumption_budget_resource_group" "this" {
  name              = "${var.name}-monthly"
  resource_group_id = var.resource_group_id
  amount            = var.monthly_critical
  time_grain        = "Monthly"

  time_period {
    start_date = formatdate("YYYY-MM-01'T'00:00:00Z", timestamp())
  }

  notification {
    enabled        = true
    operator       = "GreaterThanOrEqualTo"
    threshold      = floor(var.monthly_warning * 100 / var.monthly_critical)
    threshold_type = "Actual"
    contact_emails = [var.alert_email]
  }

  notification {
    enabled        = true
    operator       = "GreaterThanOrEqualTo"
    threshold      = 100
    threshold_type = "Forecasted"
    contact_emails = [var.alert_email]
  }

  lifecycle {
    ignore_changes = [time_period]
  }
}
