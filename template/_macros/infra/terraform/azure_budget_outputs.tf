output "budget_names" {
  description = "Budgets watching this environment"
  value       = [for budget in azurerm_consumption_budget_resource_group.this : budget.id]
}
