
region="${GCP_REGION:-{{ i.region }}}"
service="${slug}-${environment}-web"
previous="$(gcloud run revisions list --service "$service" --region "$region" --sort-by '~metadata.creationTimestamp' \
  --format 'value(metadata.name)' --limit 2 | tail -n 1)"
gcloud run services update-traffic "$service" --region "$region" --to-revisions "${previous}=100" --quiet
