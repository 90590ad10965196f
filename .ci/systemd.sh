#!/usr/bin/env bash
# .ci/systemd.sh: check systemd/streamd.service and the template
# systemd/streamd@.service (as instance streamd@ci.service).
#   1. systemd-analyze verify (parse errors and unknown keys fail the run)
#   2. systemd-analyze security --offline=yes: exposure score must be <= 1.5
#   3. boot a real systemd in a podman container and run streamd.service there
#      (.ci/systemd-boot.sh; about 45 s, 2.5 min on a fresh machine; skip
#      with CI_STREAMD_SYSTEMD_BOOT=0)
# Installs systemd from Debian when systemd-analyze is missing. Idempotent.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
max_score=${STREAMD_MAX_EXPOSURE:-1.5}
step() { printf '\n== systemd: %s\n' "$*"; }
fail() { printf 'FAIL systemd: %s\n' "$*" >&2; exit 1; }
start=$(date +%s)

step "tools"
if ! command -v systemd-analyze >/dev/null || [ ! -x /bin/kill ]; then
	echo "installing systemd (systemd-analyze) and procps (/bin/kill)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd procps >/dev/null
fi
systemd-analyze --version | head -1

# verify checks that ExecStart= and ExecReload= binaries exist and are
# executable, so it runs against a scratch root holding the unchanged unit, a
# stand-in /usr/local/bin/streamd and /bin/kill.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/usr/local/bin" "$root/bin" "$root/etc/systemd/system"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/streamd"
chmod 0755 "$root/usr/local/bin/streamd"
cp /bin/kill "$root/bin/kill" # the unit's ExecReload=; Debian's procps

# verify UNITFILE NAME INSTANCE: installs UNITFILE as NAME in the scratch
# root and verifies INSTANCE (NAME itself, or an instance of a template);
# prints diagnostics, returns non-zero on any.
verify() {
	cp "$1" "$root/etc/systemd/system/$2"
	systemd-analyze verify --man=no --recursive-errors=no --root="$root" "$3" 2>&1
}

check_unit() { # check_unit NAME INSTANCE
	local unit=$repo/systemd/$1 out report score
	step "verify $unit as $2"
	if ! out=$(verify "$unit" "$1" "$2"); then
		printf '%s\n' "$out"
		fail "systemd-analyze verify rejected $1"
	fi
	[ -z "$out" ] || { printf '%s\n' "$out"; fail "systemd-analyze verify printed warnings for $1"; }
	echo "ok: no errors or warnings"

	# Guard against a verify that passes everything: a misspelt key must fail.
	sed 's/^NoNewPrivileges=/NoNewPrivilegez=/' "$unit" >"$tmp/broken.service"
	if verify "$tmp/broken.service" "$1" "$2" >/dev/null; then
		fail "verify accepted a unit with an unknown key; the check is not working"
	fi
	echo "ok: a misspelt key is rejected"

	step "security --offline=yes of $2 (max $max_score)"
	cp "$unit" "$root/etc/systemd/system/$1"
	report=$(systemd-analyze security --offline=yes --root="$root" "$2" 2>&1) || true
	score=$(printf '%s\n' "$report" | sed -n "s/.*Overall exposure level for $2: \([0-9.]*\).*/\1/p")
	[ -n "$score" ] || { printf '%s\n' "$report"; fail "could not find the exposure score of $2"; }
	printf '%s\n' "$report" | grep -E '^✗' || true # what still costs points
	echo "exposure score: $score"
	awk -v s="$score" -v m="$max_score" 'BEGIN { exit !(s <= m) }' ||
		fail "exposure score of $2 $score > $max_score"
	echo "ok: $score <= $max_score"
}

check_unit streamd.service streamd.service
check_unit streamd@.service streamd@ci.service

if [ "${CI_STREAMD_SYSTEMD_BOOT:-1}" = 1 ]; then
	step "boot the unit under a real systemd (podman)"
	"$repo/.ci/systemd-boot.sh"
else
	step "skipping the real-systemd boot test (CI_STREAMD_SYSTEMD_BOOT=0)"
fi

echo
echo "PASS systemd ($(($(date +%s) - start)) s)"
