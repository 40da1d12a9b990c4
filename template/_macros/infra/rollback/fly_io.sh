
: "${FLY_API_TOKEN:?}"
app="${slug}-${environment}"
previous="$(flyctl releases --app "$app" --image --json | jq -r '[.[] | select(.Status == "complete")][1].ImageRef')"
flyctl deploy --config "$root/fly.toml" --app "$app" --image "$previous" --strategy immediate
