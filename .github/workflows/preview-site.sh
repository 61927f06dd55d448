#!/usr/bin/env bash
# One site's pull-request preview (used by preview.yml, and by tests/e2e/fabric.test.ts against the lab):
#   1. the config check without the engine (every problem with its fix; secrets stay encrypted),
#   2. `pulumi preview --diff` of the stack,
# printed as a Markdown section for the PR comment. Exit status: non-zero if either step failed.
#   usage: preview-site.sh <site> [<project dir>]
# PREVIEW_PULUMI overrides how pulumi is run (the lab runs it inside its operator namespace).
set -uo pipefail
site=$1
dir=${2:-.}
root=$(cd "$(dirname "$0")/../.." && pwd)
read -r -a run_pulumi <<<"${PREVIEW_PULUMI:-pulumi}"
status=0

echo "### Site \`$site\`"
echo
echo "<details><summary>config check</summary>"
echo
echo '```'
(cd "$root" && bash scripts/with-env.sh --no-engine ts-node --transpile-only scripts/check-config.ts --stack "$site" --dir "$dir") 2>&1 || status=1
echo '```'
echo "</details>"
echo
if [ "$status" -eq 0 ]; then
  echo '```diff'
  "${run_pulumi[@]}" preview --diff --non-interactive --color never -s "$site" --cwd "$dir" 2>&1 || status=1
  echo '```'
else
  echo "preview skipped: the config check failed"
fi
echo
[ "$status" -eq 0 ] && echo "**$site: ok**" || echo "**$site: FAILED**"
exit "$status"
