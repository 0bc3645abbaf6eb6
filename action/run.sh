#!/usr/bin/env bash
# The GitHub Action's work (action.yml), as a script CI can run without GitHub:
#   INPUT_DIR=examples/acme GITHUB_STEP_SUMMARY=s.md GITHUB_OUTPUT=o.txt action/run.sh
# 1. `keytrail lint DIR --format github` (INPUT_LINT=true): its errors are annotated and fail
#    the run even when the check passes;
# 2. on a pull request, the policy impact against INPUT_COMPARE_POLICIES: annotations on the
#    changed rule lines and the impact in the step summary (informational: the check below
#    fails on what it flags);
# 3. `keytrail check`: annotations and the Markdown step summary, SARIF to INPUT_SARIF,
#    against INPUT_BASELINE when given; its exit code is written to GITHUB_OUTPUT
#    (`exit-code=`) and is this script's exit code.
# Inputs arrive in the environment only: nothing here splices a value into shell text.
set -uo pipefail

dir=${INPUT_DIR:-.}
fail_on=${INPUT_FAIL_ON:-high}
sarif=${INPUT_SARIF:-keytrail.sarif}
output=${GITHUB_OUTPUT:-/dev/null}
# A value reaches keytrail and git as one argument, and never as an option: paths starting
# with `-` get `./`, options take their value after `=`.
case "$dir" in -*) dir="./$dir" ;; esac
case "$sarif" in -*) sarif="./$sarif" ;; esac
common=("--fail-on=$fail_on")
if [ -n "${INPUT_AS_OF:-}" ]; then common+=("--as-of=$INPUT_AS_OF"); fi

finish() {
    echo "exit-code=$1" >>"$output"
    exit "$1"
}

# A workflow-command message from a value: GitHub's escapes (docs/ci.md), and any other
# control character (an ANSI escape) shown as `?`, so the value cannot repaint the log.
gh_escape() {
    local text=${1//%/%25}
    text=${text//$'\r'/%0D}
    text=${text//$'\n'/%0A}
    printf '%s' "${text//[[:cntrl:]]/?}"
}

# Each output is one `name=value` line of GITHUB_OUTPUT: a value with a line break would
# write a line of its own (another output), so such a value is refused, not written.
if [[ "$sarif" == *$'\n'* || "$sarif" == *$'\r'* ]]; then
    echo "::error title=keytrail::the sarif input holds a line break: $(gh_escape "$sarif")"
    finish 2
fi

# A yes/no input that is neither would otherwise switch a step off without a word
# (`lint: yes` skipping the lint); GitHub compares `true` ignoring case, and so does this.
for pair in "lint=${INPUT_LINT:-true}" "upload-sarif=${INPUT_UPLOAD_SARIF:-true}"; do
    case "${pair#*=}" in
        [Tt][Rr][Uu][Ee] | [Ff][Aa][Ll][Ss][Ee]) ;;
        *) echo "::error title=keytrail::the ${pair%%=*} input is '$(gh_escape "${pair#*=}")': write true or false"
           finish 2 ;;
    esac
done

lint=0
if [[ "${INPUT_LINT:-true}" == [Tt][Rr][Uu][Ee] ]]; then
    lint_args=(lint "$dir" --format github)
    if [ -n "${INPUT_AS_OF:-}" ]; then lint_args+=("--as-of=$INPUT_AS_OF"); fi
    keytrail "${lint_args[@]}"
    lint=$?
fi

ref=${INPUT_COMPARE_POLICIES:-}
if [ -n "$ref" ] && [ "$ref" != "none" ]; then
    if [[ "$ref" == -* || "$ref" == origin/-* ]]; then
        # Never an option to git or keytrail (`origin/--upload-pack=CMD` would run CMD).
        echo "::error title=keytrail policy impact::compare-policies looks like an option, not a git ref: $(gh_escape "$ref")"
        finish 2
    fi
    if ! git -C "$dir" rev-parse --verify --quiet "$ref^{commit}" >/dev/null && [[ "$ref" == origin/* ]]; then
        # A shallow checkout lacks the base branch: fetch just it.
        git -C "$dir" fetch --quiet --no-tags --depth=1 -- origin "${ref#origin/}" 2>/dev/null \
            && ref=FETCH_HEAD
    fi
    keytrail check "$dir" "${common[@]}" "--compare-policies=$ref" --format github
    if [ $? -eq 2 ]; then
        echo "::error title=keytrail policy impact::could not compare the policies with $(gh_escape "$ref")"
        finish 2
    fi
fi

check=(check "$dir" "${common[@]}" --format github --output - --format sarif "--output=$sarif")
if [ -n "${INPUT_BASELINE:-}" ]; then check+=("--baseline=$INPUT_BASELINE"); fi
keytrail "${check[@]}"
code=$?
if [ -s "$sarif" ]; then echo "sarif=$sarif" >>"$output"; fi
if [ "$code" -eq 0 ] && [ "$lint" -ne 0 ]; then
    # The check passed but the project's files do not lint: the job still fails.
    echo "::error title=keytrail lint::the project's files have lint errors (exit $lint)"
    code=$(( lint == 2 ? 2 : 1 ))
fi
finish "$code"
