
group="rg-${slug}-${environment}"
app="${slug}-${environment}-web"
require_image
{%- if has_worker %}
az containerapp update --name "${slug}-${environment}-worker" --resource-group "$group" --image "$image" --output none
{%- endif %}
stable="$(az containerapp revision list --name "$app" --resource-group "$group" --query "[?properties.trafficWeight > \`0\`] | [0].name" --output tsv)"
suffix="$(date +%Y%m%d%H%M%S)"
az containerapp update --name "$app" --resource-group "$group" --image "$image" --revision-suffix "$suffix" --output none
candidate="${app}--${suffix}"
abort() {
  az containerapp ingress traffic set --name "$app" --resource-group "$group" --revision-weight "${stable}=100" --output none
  echo "deploy aborted: $stable keeps all traffic" >&2
  exit 1
}
if [ -n "$stable" ]; then
  az containerapp ingress traffic set --name "$app" --resource-group "$group" --revision-weight "${stable}=100" "${candidate}=0" --output none
  fqdn="$(az containerapp revision show --name "$app" --resource-group "$group" --revision "$candidate" --query properties.fqdn --output tsv)"
  smoke "https://${fqdn}" || abort
{%- if deployment_strategy in ('canary', 'ab_testing') %}
  for weight in "${canary_steps[@]}"; do
    az containerapp ingress traffic set --name "$app" --resource-group "$group" \
      --revision-weight "${stable}=$((100 - weight))" "${candidate}=${weight}" --output none
    echo "canary: ${weight}% of traffic on $candidate"
    sleep "$pause"
    smoke || abort
  done
{%- endif %}
fi
az containerapp ingress traffic set --name "$app" --resource-group "$group" --revision-weight "${candidate}=100" --output none
smoke || abort
