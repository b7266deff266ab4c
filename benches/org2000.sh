#!/usr/bin/env bash
# End-to-end benchmark: `sync` + `events --json` over one year of a large calendar, measured with
# /usr/bin/time (wall time, peak RSS), side by side with the Python reference recurring-ical-events
# when it is installed (pip install recurring-ical-events).
#
# usage: benches/org2000.sh [FILE.ics] [FROM] [TO]
#   default FILE: $CADENCED_ICS_CORPUS/synthetic/org-2000.ics (a synthetic calendar of 2,000 series
#   from the corpus the ics corpus test walks), window 2026-01-01..2027-01-01
set -euo pipefail
cd "$(dirname "$0")/.."
ics=$(realpath "${1:-${CADENCED_ICS_CORPUS:?pass FILE.ics or set CADENCED_ICS_CORPUS}/synthetic/org-2000.ics}")
from=${2:-2026-01-01}
to=${3:-2027-01-01}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 2; }

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/cadenced
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/config.toml" <<TOML
[manager]
email = "bench@example.invalid"
timezone = "UTC"
[[accounts]]
name = "bench"
provider = "ics"
path = "$ics"
TOML

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r secs kib <"$work/time"
  printf '%-28s %8.3f s %8.1f MiB  (%s lines)\n' "$label" "$secs" "$(echo "$kib/1024" | bc -l)" "$(wc -l <"$work/out")"
}

echo "file: $ics, window $from..$to"
measure "cadenced sync" "$bin" --config "$work/config.toml" --state-dir "$work/state" sync
measure "cadenced events --json" "$bin" --config "$work/config.toml" --state-dir "$work/state" events --json --from "$from" --to "$to"
rm -rf "$work/state"
measure "cadenced sync + events" sh -c "'$bin' --config '$work/config.toml' --state-dir '$work/state' sync >/dev/null && '$bin' --config '$work/config.toml' --state-dir '$work/state' events --json --from $from --to $to"

if python3 -c 'import recurring_ical_events' 2>/dev/null; then
  cat >"$work/ref.py" <<PY
import datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(open("$ics", "rb").read())
day = lambda s: datetime.date.fromisoformat(s)
for e in recurring_ical_events.of(cal).between(day("$from"), day("$to")):
    print(e.get("UID"), e.get("DTSTART").dt)
PY
  measure "recurring-ical-events" python3 "$work/ref.py"
else
  echo "recurring-ical-events not installed: pip install recurring-ical-events to compare"
fi
