
project="${slug}-${environment}"
compose=(docker compose --project-name "$project" --file "$root/deploy/on-prem/compose.yaml")
if [ "$destroy" = "true" ]; then
  "${compose[@]}" down --volumes
  exit 0
fi
require_image
# Keep the running image as <project>:previous for scripts/rollback.sh.
running="$("${compose[@]}" images app --format json 2>/dev/null | jq -r '.[0] | "\(.Repository):\(.Tag)"' || true)"
if [ -n "$running" ] && [ "$running" != "null:null" ]; then
  docker tag "$running" "${project}:previous"
fi
export IMAGE="$image" APP_ENV="$environment" APP_HOST="$host"
"${compose[@]}" pull app
"${compose[@]}" up --detach --wait --remove-orphans
smoke || { bash "$here/rollback.sh" "$environment"; exit 1; }
