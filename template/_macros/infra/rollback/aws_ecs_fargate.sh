
cluster="${slug}-${environment}"
for service in web{% if has_worker %} worker{% endif %}; do
  current="$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].taskDefinition' --output text)"
  family="${current%:*}"
  revision="${current##*:}"
  aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "${family}:$((revision - 1))" >/dev/null
done
aws ecs wait services-stable --cluster "$cluster" --services web{% if has_worker %} worker{% endif %}
