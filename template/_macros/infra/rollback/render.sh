
: "${RENDER_API_KEY:?}"
api="https://api.render.com/v1"
auth=(-H "Authorization: Bearer ${RENDER_API_KEY}" -H "Accept: application/json")
service_id="$(curl -fsS "${auth[@]}" "${api}/services?name=${slug}-${environment}&limit=1" | jq -r '.[0].service.id')"
previous="$(curl -fsS "${auth[@]}" "${api}/services/${service_id}/deploys?limit=10" |
  jq -r '[.[].deploy | select(.status == "live" or .status == "deactivated")][1].id')"
curl -fsS "${auth[@]}" -H "Content-Type: application/json" -X POST "${api}/services/${service_id}/rollback" \
  -d "{\"deployId\": \"${previous}\"}" >/dev/null
