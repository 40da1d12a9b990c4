
stack="${slug}-${environment}"
if [ "$destroy" = "true" ]; then
  docker stack rm "$stack"
  exit 0
fi
require_image
# update_config in docker-stack.yml starts new tasks first and rolls back by itself on failure.
IMAGE="$image" APP_ENV="$environment" APP_HOST="$host" docker stack deploy --with-registry-auth --prune \
  --compose-file "$root/docker-stack.yml" "$stack"
for _ in $(seq 1 60); do
  state="$(docker service inspect "${stack}_app" --format '{{ '{{' }}if .UpdateStatus{{ '}}' }}{{ '{{' }}.UpdateStatus.State{{ '}}' }}{{ '{{' }}else{{ '}}' }}completed{{ '{{' }}end{{ '}}' }}')"
  case "$state" in
    completed) break ;;
    rollback_completed | paused)
      echo "swarm update ended: $state" >&2
      exit 1
      ;;
  esac
  sleep 10
done
smoke
