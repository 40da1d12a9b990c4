{%- set i = infra() -%}
// Cost alerts (cost_alerts): Cloud Billing budgets are monthly; e-mail at the warning and critical
// amounts (terraform/modules/budget).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { billingAccount, name, projectId } from "./config";
import { invokeOpts, opts } from "./provider";

const ALERT_EMAIL = "{{ i.acme_email }}";
const MONTHLY_WARNING = {{ cost_monthly_warning }};
const MONTHLY_CRITICAL = {{ cost_monthly_critical }};

export function budget(): pulumi.Output<string> {
  if (!billingAccount) {
    throw new Error("cost alerts need the billing account: pulumi config set billingAccount <id> (gcloud billing accounts list)");
  }
  const project = gcp.organizations.getProjectOutput({ projectId }, invokeOpts);
  const email = new gcp.monitoring.NotificationChannel("cost-alerts", {
    displayName: `${name} cost alerts`,
    type: "email",
    labels: { email_address: ALERT_EMAIL },
  }, opts);

  return new gcp.billing.Budget("monthly", {
    billingAccount,
    displayName: `${name} monthly`,
    budgetFilter: { projects: [pulumi.interpolate`projects/${project.number}`] },
    amount: { specifiedAmount: { currencyCode: "USD", units: String(MONTHLY_CRITICAL) } },
    thresholdRules: [
      { thresholdPercent: MONTHLY_WARNING / MONTHLY_CRITICAL },
      { thresholdPercent: 1.0 },
      { thresholdPercent: 1.0, spendBasis: "FORECASTED_SPEND" },
    ],
    allUpdatesRule: { monitoringNotificationChannels: [email.id] },
  }, opts).name;
}
