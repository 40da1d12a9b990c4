
require FLY_API_TOKEN
app="${slug}-${environment}"
if [ "$destroy" = "true" ]; then
  flyctl apps destroy "$app" --yes
  exit 0
fi
require_image
if [ "$preview" = "true" ]; then
  flyctl apps create "$app" --org "${FLY_ORG:-personal}" 2>/dev/null || true
fi
flyctl deploy --config "$root/fly.toml" --app "$app" --image "$image" \
  --strategy {{ {'rolling': 'rolling', 'blue_green': 'bluegreen', 'canary': 'canary', 'ab_testing': 'canary'}[deployment_strategy] }} --wait-timeout 10m
smoke
