
group="rg-${slug}-${environment}"
app="${slug}-${environment}-web"
previous="$(az containerapp revision list --name "$app" --resource-group "$group" \
  --query "sort_by([], &properties.createdTime)[-2].name" --output tsv)"
az containerapp revision activate --name "$app" --resource-group "$group" --revision "$previous" --output none
az containerapp ingress traffic set --name "$app" --resource-group "$group" --revision-weight "${previous}=100" --output none
