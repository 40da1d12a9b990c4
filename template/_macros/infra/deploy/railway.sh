
require RAILWAY_TOKEN
cd "$root"
if [ "$destroy" = "true" ]; then
  npx --yes @railway/cli@latest environment delete "$environment" --yes
  exit 0
fi
if [ "$preview" = "true" ]; then
  npx --yes @railway/cli@latest environment new "$environment" --copy staging 2>/dev/null || true
fi
npx --yes @railway/cli@latest up --ci --service "$slug" --environment "$environment"
{%- if has_worker %}
npx --yes @railway/cli@latest up --ci --service "${slug}-worker" --environment "$environment"
{%- endif %}
smoke
