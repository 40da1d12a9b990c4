output "budget_names" {
  description = "Budgets watching this environment"
  value       = [for budget in google_billing_budget.this : budget.id]
}
