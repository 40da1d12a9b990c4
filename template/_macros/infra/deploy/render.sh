
require RENDER_API_KEY
api="https://api.render.com/v1"
auth=(-H "Authorization: Bearer ${RENDER_API_KEY}" -H "Accept: application/json")
service_name="${slug}-${environment}"
service_id="$(curl -fsS "${auth[@]}" "${api}/services?name=${service_name}&limit=1" | jq -r '.[0].service.id // empty')"
if [ "$destroy" = "true" ]; then
  # Render deletes pull-request previews when the pull request closes (render.yaml previews).
  echo "Render removes the preview of $environment with its pull request"
  exit 0
fi
if [ -z "$service_id" ]; then
  echo "no Render service named $service_name (create it from render.yaml: Blueprints)" >&2
  exit 1
fi
deploy_id="$(curl -fsS "${auth[@]}" -H "Content-Type: application/json" -X POST "${api}/services/${service_id}/deploys" \
  -d "{\"clearCache\": \"do_not_clear\"${image:+, \"imageUrl\": \"${image}\"}}" | jq -r '.id')"
echo "render deploy $deploy_id started"
for _ in $(seq 1 120); do
  status="$(curl -fsS "${auth[@]}" "${api}/services/${service_id}/deploys/${deploy_id}" | jq -r '.status')"
  case "$status" in
    live) break ;;
    build_failed | update_failed | canceled | pre_deploy_failed)
      echo "render deploy $deploy_id ended: $status" >&2
      exit 1
      ;;
  esac
  sleep 10
done
smoke
