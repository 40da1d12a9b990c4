{%- set i = infra() -%}
// Cost alerts (cost_alerts): a monthly budget on the environment's resource group (Azure budgets
// are monthly, quarterly or yearly), e-mail at the warning and critical amounts (terraform/modules/budget).
import * as consumption from "@pulumi/azure-native/consumption";
import * as pulumi from "@pulumi/pulumi";
import { resourceGroup } from "./azure";
import { name } from "./config";
import { opts } from "./provider";

const ALERT_EMAIL = "{{ i.acme_email }}";
const MONTHLY_WARNING = {{ cost_monthly_warning }};
const MONTHLY_CRITICAL = {{ cost_monthly_critical }};

export function budget(): pulumi.Output<string> {
  const now = new Date();
  const start = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}-01T00:00:00Z`;
  return new consumption.Budget("monthly", {
    budgetName: `${name}-monthly`,
    scope: resourceGroup.id,
    amount: MONTHLY_CRITICAL,
    category: "Cost",
    timeGrain: "Monthly",
    timePeriod: { startDate: start },
    notifications: {
      warning: {
        enabled: true,
        operator: "GreaterThanOrEqualTo",
        threshold: Math.floor((MONTHLY_WARNING * 100) / MONTHLY_CRITICAL),
        thresholdType: "Actual",
        contactEmails: [ALERT_EMAIL],
      },
      forecast: {
        enabled: true,
        operator: "GreaterThanOrEqualTo",
        threshold: 100,
        thresholdType: "Forecasted",
        contactEmails: [ALERT_EMAIL],
      },
    },
  }, { ...opts, ignoreChanges: ["timePeriod"] }).name;
}
