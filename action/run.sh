#!/usr/bin/env bash
# The GitHub Action's main step (inputs and outputs: action.yml). Runs one rulesync command,
# records its exit code and files as step outputs, writes the job summary and, when asked,
# keeps the pull request comment or the drift issue of the environment up to date.
#
# Every input arrives as a RULESYNC_* environment variable: nothing is pasted into code.
# The GitHub token is only ever given to `gh`, never to rulesync.
set -uo pipefail

command=${RULESYNC_COMMAND:-plan}
environment=${RULESYNC_ENVIRONMENT:-}
plan_file=${RULESYNC_PLAN_FILE:-}
show_format=${RULESYNC_FORMAT:-markdown}
rulesync=${RULESYNC:-rulesync}
author=${RULESYNC_COMMENT_AUTHOR:-github-actions[bot]}
pull_request=${RULESYNC_PULL_REQUEST:-}
fork=${RULESYNC_FORK:-false}
temp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
read -r -a extra <<< "${RULESYNC_ARGS:-}"

# The environment as it appears in markers and headings: plain characters only.
label=$(printf '%s' "${environment:-default}" | tr -c 'A-Za-z0-9_.-' '_')
log="$temp/rulesync-$label.log"
markdown=${plan_file:+${plan_file%.json}.md}
markdown=${markdown:-rulesync-$label.md}

global=()
if [ -n "$environment" ]; then global+=(--env "$environment"); fi
if [ -n "${RULESYNC_CONFIG:-}" ]; then global+=(--config "$RULESYNC_CONFIG"); fi

rulesync_run() {
  env -u RULESYNC_GITHUB_TOKEN -u GH_TOKEN -u GITHUB_TOKEN "$rulesync" "${global[@]}" "$@"
}

set_output() {
  printf '%s=%s\n' "$1" "$2" >> "${GITHUB_OUTPUT:-/dev/null}"
}

summary() {
  cat >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
}

# The end of a log as a fenced block: at most 3000 bytes of whole characters, no backticks.
log_block() {
  local tail_text
  tail_text=$(tail -c 3000 "$1" | { iconv -c -f UTF-8 -t UTF-8 2>/dev/null || cat; } | tr '`' "'")
  # shellcheck disable=SC2016 # backticks of a markdown fence, not a command
  printf '```text\n%s\n```\n' "$tail_text"
}

gh_api() {
  GH_TOKEN=${RULESYNC_GITHUB_TOKEN:-} gh api "$@"
}

# Finds the item (comment or issue) written by $author whose first line is the marker.
find_marked() {
  local url=$1 marker=$2 id login first
  shift 2
  while IFS=$'\t' read -r id login first; do
    if [ "$login" = "$author" ] && [ "$first" = "$marker" ]; then
      printf '%s\n' "$id"
      return 0
    fi
  done < <(gh_api --paginate -X GET "$url" "$@" \
    --jq '.[] | select(.pull_request == null) | [(.number // .id), .user.login, ((.body // "") | split("\n") | .[0])] | @tsv')
  return 0
}

# A comment or issue body within GitHub's limit (65,536 characters; counted here in bytes).
fit_body() {
  local file=$1 fallback=$2
  if [ "$(wc -c < "$file")" -gt 65000 ]; then
    { head -n 3 "$file"; printf '\n%s\n' "$fallback"; } > "$file.short"
    mv "$file.short" "$file"
  fi
}

plan_status() {
  case "$1" in
    0) echo "✅ **No changes.**" ;;
    2) echo "📝 **Changes planned.** They are applied when this is merged." ;;
    3) echo "⛔ **Unsafe plan (exit 3)**: it breaks the safety rules of rulesync.yaml; \`rulesync apply\` will refuse it." ;;
    neutral) echo "ℹ️ **Not planned here**: a pull request from a fork runs without this repository's secrets. The files are valid; a maintainer's run (for example after merging into a branch of this repository) shows the plan." ;;
    *) echo "❌ **Planning failed (exit $1)**: see the log below and the run's log." ;;
  esac
}

# marker, heading, status, then the plan (or the log when there is no plan)
compose() {
  local marker=$1 status=$2 body=$3
  {
    printf '%s\n' "$marker"
    if [ -s "$markdown" ]; then
      head -n 1 "$markdown"
      printf '\n%s\n' "$status"
      tail -n +2 "$markdown"
    else
      printf '### rulesync plan: %s\n\n%s\n\n' "$label" "$status"
      log_block "$log"
    fi
    if [ -n "${GITHUB_SERVER_URL:-}" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
      printf '\n[Run log and plan](%s/%s/actions/runs/%s)\n' \
        "$GITHUB_SERVER_URL" "${GITHUB_REPOSITORY:-}" "$GITHUB_RUN_ID"
    fi
  } > "$body"
  fit_body "$body" "The plan is too long for a comment: it is in the job summary of the run."
}

pr_comment() {
  local status=$1 marker="<!-- rulesync-plan:$label -->" body="$temp/rulesync-comment-$label.md"
  local repo=${GITHUB_REPOSITORY:?} id
  compose "$marker" "$status" "$body"
  id=$(find_marked "repos/$repo/issues/$pull_request/comments" "$marker" -f per_page=100) || id=
  if [ -n "$id" ]; then
    gh_api --method PATCH "repos/$repo/issues/comments/$id" -F "body=@$body" > /dev/null
  else
    gh_api --method POST "repos/$repo/issues/$pull_request/comments" -F "body=@$body" > /dev/null
  fi || echo "::warning title=No plan comment::Could not comment on the pull request (a pull request from a fork gets a read-only token); the plan is in the job summary."
}

drift_issue() {
  local code=$1 marker="<!-- rulesync-drift:$label -->" body="$temp/rulesync-drift-$label.md"
  local repo=${GITHUB_REPOSITORY:?} number
  number=$(find_marked "repos/$repo/issues" "$marker" -f state=open -f creator="$author" \
    -f per_page=100) || number=
  if [ "$code" = 0 ]; then
    if [ -n "$number" ]; then
      # shellcheck disable=SC2016 # markdown code, not a command
      printf 'No drift any more: `%s` matches the files again.\n' "$label" > "$body"
      gh_api --method POST "repos/$repo/issues/$number/comments" -F "body=@$body" > /dev/null
      gh_api --method PATCH "repos/$repo/issues/$number" -f state=closed \
        -f state_reason=completed > /dev/null
    fi
    return
  fi
  compose "$marker" "$(plan_status "$code")
The live rulesets no longer match the files. Applying the plan puts the files back in charge; first copy any live edits you want to keep into the files." "$body"
  local title="Drift detected: rulesync environment $label"
  if [ -n "$number" ]; then
    gh_api --method PATCH "repos/$repo/issues/$number" -f title="$title" -F "body=@$body" > /dev/null
  else
    gh_api --method POST "repos/$repo/issues" -f title="$title" -F "body=@$body" > /dev/null
  fi
}

case "$command" in
  validate)
    rulesync_run validate "${extra[@]}" 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    if [ "$code" != 0 ]; then
      { printf '### rulesync validate: invalid files\n\n'; log_block "$log"; } | summary
    fi
    ;;
  plan)
    plan_file=${plan_file:-rulesync-plan.json}
    rulesync_run plan --detailed-exitcode --format markdown --out "$plan_file" "${extra[@]}" \
      > "$markdown" 2> "$log"
    code=$?
    cat "$log"
    cat "$markdown"
    ;;
  apply)
    if [ -n "$plan_file" ] && [ ! -f "$plan_file" ]; then
      echo "::error title=No plan file::$plan_file does not exist: run the action with command: plan first, or set plan-file to '' to plan and apply in one go."
      set_output exitcode 1
      exit 1
    fi
    rulesync_run apply ${plan_file:+"$plan_file"} --yes "${extra[@]}" 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    { printf '### rulesync apply: %s\n\n' "$label"; log_block "$log"; } | summary
    ;;
  show)
    rulesync_run show "${plan_file:-rulesync-plan.json}" --format "$show_format" "${extra[@]}" \
      | tee "$markdown"
    code=${PIPESTATUS[0]}
    if [ "$show_format" = markdown ]; then summary < "$markdown"; fi
    ;;
  *)
    echo "::error title=Unknown command::command must be validate, plan, apply or show, not '$command'."
    set_output exitcode 1
    exit 1
    ;;
esac

status=$code
if [ "$command" = plan ]; then
  summary < "$markdown"
  # Without secrets a fork's plan fails to authenticate: neutral, as long as the files are valid.
  if [ "$code" = 1 ] && [ "$fork" = true ] && rulesync_run validate > /dev/null 2>&1; then
    status=neutral
    echo "::notice title=Plan needs a maintainer's run::A pull request from a fork runs without this repository's secrets, so $label was not planned. The files are valid."
  fi
  if [ "${RULESYNC_COMMENT:-false}" = true ] && [ -n "$pull_request" ]; then
    pr_comment "$(plan_status "$status")"
  fi
  if [ "${RULESYNC_DRIFT_ISSUE:-false}" = true ] && [ "$code" != 1 ]; then
    drift_issue "$code" || echo "::warning title=Drift issue not updated::See the log above."
  fi
fi

set_output exitcode "$code"
if [ "$command" = plan ] || [ "$command" = show ]; then
  set_output markdown "$(pwd)/$markdown"
fi
if [ "$command" = plan ] && [ -f "${plan_file:-}" ]; then
  set_output json "$(pwd)/$plan_file"
fi
if [ "$command" = plan ] && [ "$code" = 2 ]; then
  set_output changes true
else
  set_output changes false
fi

case "$code:$command" in
  0:* | 2:plan) exit 0 ;;
  1:plan) if [ "$status" = neutral ]; then exit 0; fi ;;
  3:plan) echo "::error title=Unsafe plan (exit 3)::The plan for $label breaks the safety rules of rulesync.yaml; apply would refuse it. See the plan in the job summary." ;;
  3:apply) echo "::error title=Refused (exit 3)::Rulesets of $label changed since the plan was made (or the plan is unsafe); nothing was written. Plan again." ;;
  4:apply) echo "::error title=Partly applied (exit 4)::Some changes to $label failed, the others applied. Applying again converges." ;;
esac
exit "$code"
