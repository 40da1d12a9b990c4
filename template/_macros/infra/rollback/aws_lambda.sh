
function_name="${slug}-${environment}"
current="$(aws lambda get-alias --function-name "$function_name" --name live --query FunctionVersion --output text)"
aws lambda update-alias --function-name "$function_name" --name live --function-version "$((current - 1))" --routing-config '{}' >/dev/null
