
group="rg-${slug}-${environment}"
app="${slug}-${environment}"
if [ -z "$image" ]; then
  # No package given: build this commit's zip (scripts/package.sh).
  image="$(bash "$here/package.sh")"
fi
if [ ! -f "$image" ]; then
  echo "deploy.sh: $image is not a zip package" >&2
  exit 2
fi
# Blue/green by slots: publish to staging, check it, swap it into production.
az functionapp deployment source config-zip --resource-group "$group" --name "$app" --slot staging --src "$image" --output none
smoke "https://${app}-staging.azurewebsites.net"
az functionapp deployment slot swap --resource-group "$group" --name "$app" --slot staging --target-slot production --output none
smoke || { bash "$here/rollback.sh" "$environment"; exit 1; }
