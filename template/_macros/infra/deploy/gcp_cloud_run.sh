
require GOOGLE_CLOUD_PROJECT
region="${GCP_REGION:-{{ i.region }}}"
service="${slug}-${environment}-web"
if [ "$destroy" = "true" ]; then
  gcloud run services delete "$service" --region "$region" --quiet
  exit 0
fi
require_image
{%- if has_worker %}
gcloud run deploy "${slug}-${environment}-worker" --image "$image" --region "$region" --quiet
{%- endif %}
if [ "$preview" = "true" ] || ! gcloud run services describe "$service" --region "$region" >/dev/null 2>&1; then
  gcloud run deploy "$service" --image "$image" --region "$region" --allow-unauthenticated --quiet
  smoke "$(gcloud run services describe "$service" --region "$region" --format 'value(status.url)')"
  exit 0
fi
# The new revision starts without traffic behind the "candidate" tag.
gcloud run deploy "$service" --image "$image" --region "$region" --no-traffic --tag candidate --quiet
candidate_url="$(gcloud run services describe "$service" --region "$region" --format 'value(status.traffic[0].url)' \
  --flatten 'status.traffic[]' --filter 'status.traffic.tag=candidate')"
abort() {
  gcloud run services update-traffic "$service" --region "$region" --to-tags candidate=0 --quiet || true
  echo "deploy aborted: the previous revision keeps all traffic" >&2
  exit 1
}
smoke "$candidate_url" || abort
{%- if deployment_strategy in ('canary', 'ab_testing') %}
for weight in "${canary_steps[@]}"; do
  gcloud run services update-traffic "$service" --region "$region" --to-tags "candidate=${weight}" --quiet
  echo "canary: ${weight}% of traffic on the candidate"
  sleep "$pause"
  smoke || abort
done
{%- endif %}
gcloud run services update-traffic "$service" --region "$region" --to-latest --quiet
smoke
