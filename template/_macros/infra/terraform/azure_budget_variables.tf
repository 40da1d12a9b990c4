{%- include 'template/_macros/infra/terraform/budget_variables.tf' %}
