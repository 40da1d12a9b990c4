{%- set i = infra() -%}
// Cost alerts (cost_alerts): e-mail at the warning and critical amounts, daily and monthly
// (terraform/modules/budget).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { name, project } from "./config";
import { opts } from "./provider";

const ALERT_EMAIL = "{{ i.acme_email }}";
const LIMITS = {
  daily: { unit: "DAILY", warning: {{ cost_daily_warning }}, critical: {{ cost_daily_critical }} },
  monthly: { unit: "MONTHLY", warning: {{ cost_monthly_warning }}, critical: {{ cost_monthly_critical }} },
};

export function budget(): Record<string, pulumi.Output<string>> {
  const names: Record<string, pulumi.Output<string>> = {};
  for (const [period, limit] of Object.entries(LIMITS)) {
    const notify = (threshold: number, notificationType: string) => ({
      comparisonOperator: "GREATER_THAN",
      threshold,
      thresholdType: "PERCENTAGE",
      notificationType,
      subscriberEmailAddresses: [ALERT_EMAIL],
    });
    names[period] = new aws.budgets.Budget(period, {
      name: `${name}-${period}`,
      budgetType: "COST",
      timeUnit: limit.unit,
      limitAmount: String(limit.critical),
      limitUnit: "USD",
      costFilters: [{ name: "TagKeyValue", values: [`user:project$${project}`] }],
      notifications: [
        notify(Math.floor((limit.warning * 100) / limit.critical), "ACTUAL"),
        notify(100, "ACTUAL"),
        notify(100, "FORECASTED"),
      ],
    }, opts).name;
  }
  return names;
}
