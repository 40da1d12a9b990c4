output "budget_names" {
  description = "Budgets watching this environment"
  value       = [for budget in aws_budgets_budget.this : budget.name]
}
