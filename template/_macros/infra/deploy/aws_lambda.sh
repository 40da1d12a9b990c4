
function_name="${slug}-${environment}"
bucket="${function_name}-artifacts"
if [ -z "$image" ]; then
  # No package given: build this commit's zip (scripts/package.sh), stored as <commit>.zip.
  package="$(bash "$here/package.sh")"
  image="${package##*/"${slug}"-}"
  aws s3 cp "$package" "s3://${bucket}/${image}" --only-show-errors
elif [ -f "$image" ]; then
  # A local zip: stored under its file name.
  package="$image"
  image="$(basename "$package")"
  aws s3 cp "$package" "s3://${bucket}/${image}" --only-show-errors
fi
echo "code package: s3://${bucket}/${image}"
version="$(aws lambda update-function-code --function-name "$function_name" --s3-bucket "$bucket" --s3-key "$image" --publish --query Version --output text)"
aws lambda wait function-updated-v2 --function-name "$function_name" --qualifier "$version"
stable="$(aws lambda get-alias --function-name "$function_name" --name live --query FunctionVersion --output text)"
abort() {
  aws lambda update-alias --function-name "$function_name" --name live --function-version "$stable" --routing-config '{}' >/dev/null
  echo "deploy aborted: live stays on version $stable" >&2
  exit 1
}
{%- if deployment_strategy in ('canary', 'ab_testing') %}
for weight in "${canary_steps[@]}"; do
  share="$(awk "BEGIN { printf \"%.2f\", ${weight} / 100 }")"
  aws lambda update-alias --function-name "$function_name" --name live --function-version "$stable" \
    --routing-config "{\"AdditionalVersionWeights\": {\"${version}\": ${share}}}" >/dev/null
  echo "canary: ${weight}% of traffic on version $version"
  smoke || abort
  sleep "$pause"
done
{%- endif %}
aws lambda update-alias --function-name "$function_name" --name live --function-version "$version" --routing-config '{}' >/dev/null
smoke || abort
