
require HEROKU_API_KEY
app="${slug}-${environment}"
if [ "$destroy" = "true" ]; then
  heroku apps:destroy --app "$app" --confirm "$app"
  exit 0
fi
if [ "$preview" = "true" ]; then
  heroku apps:create "$app" 2>/dev/null || true
fi
cd "$root"
git push --force "https://heroku:${HEROKU_API_KEY}@git.heroku.com/${app}.git" HEAD:refs/heads/main
smoke
