
: "${HEROKU_API_KEY:?}"
heroku rollback --app "${slug}-${environment}"
