
project="${slug}-${environment}"
IMAGE="${project}:previous" APP_ENV="$environment" APP_HOST="$host" \
  docker compose --project-name "$project" --file "$(dirname "$here")/deploy/on-prem/compose.yaml" up --detach --wait
