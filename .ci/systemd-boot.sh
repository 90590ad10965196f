#!/usr/bin/env bash
# .ci/systemd-boot.sh: run systemd/streamd.service under a real systemd 252
# booted in a podman container (systemd is not PID 1 on the CI machine).
# Called by .ci/systemd.sh (unless CI_STREAMD_SYSTEMD_BOOT=0); runnable alone.
#   - base image: debootstrap'd Debian 12 minbase + systemd + procps (the
#     unit's ExecReload=/bin/kill), imported once and reused (about 1 min
#     the first time)
#   - inside: the unit unchanged (plus a drop-in shortening WatchdogSec to 4s),
#     /etc/streamd/streamd.env, the api_key credential, and the emulator as a
#     second unit; --network=none (loopback only)
#   - asserts: READY (active/running), DynamicUser (uid != 0, no caps),
#     credential present, events in the state directory's file and none in
#     the journal, STATUS= text, the watchdog
#     armed and fed (no restarts over 3 periods), reload (SIGHUP) keeps it
#     running, the state dir lock (check names the service's PID), `systemctl
#     stop` ends with Result=success, and the pre-flight check of
#     systemd/README.md then passes on /var/lib/streamd.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
context=${CI_STREAMD_CONTEXT:-$repo}
state=${CI_STREAMD_PODMAN_DIR:-/var/tmp/streamd-ci-podman}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=localhost/streamd-ci-debian-systemd:12-1 # bump the tag when the package list changes
name=streamd-ci-systemd-$$
start=$(date +%s)
step() { printf '\n== systemd-boot: %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }
fail() {
	printf 'FAIL systemd-boot: %s\n' "$*" >&2
	podman exec "$name" journalctl --no-pager -n 30 -u streamd 2>/dev/null >&2 || true
	exit 1
}
tmp=$(mktemp -d)
cleanup() {
	set +e
	podman rm -f -t 0 "$name" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=.ci/podman.sh
. "$repo/.ci/podman.sh"

step "tools"
podman_setup "$state" podman:podman runc:runc newuidmap:uidmap debootstrap:debootstrap

step "base image $base"
if podman image exists "$base"; then
	echo "reusing $base"
else
	rootfs=$tmp/rootfs
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log"; fail "debootstrap"; }
	tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' - "$base" >/dev/null
	rm -rf "$rootfs"
	echo "imported $base"
fi

step "service image"
(cd "$context" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/streamd" ./cmd/streamd)
cp "$repo/systemd/streamd.service" "$tmp/streamd.service"
cat >"$tmp/watchdog.conf" <<'CONF'
[Service]
# CI only: a short watchdog so three periods pass quickly.
WatchdogSec=4s
CONF
cat >"$tmp/streamd-emulator.service" <<'CONF'
[Unit]
Description=streamd emulator (CI)
Before=streamd.service
[Service]
ExecStart=/usr/local/bin/streamd emulate
Environment=STREAMD_EMULATOR_ADDR=127.0.0.1:8765 STREAMD_EMULATOR_RATE=20
[Install]
WantedBy=multi-user.target
CONF
# Control: a service that never pings must be killed by the watchdog here,
# otherwise "streamd was not killed" would prove nothing.
cat >"$tmp/watchdog-control.service" <<'CONF'
[Service]
ExecStart=/bin/sleep infinity
WatchdogSec=2s
CONF
cat >"$tmp/streamd.env" <<'CONF'
STREAMD_ENDPOINT=ws://127.0.0.1:8765
STREAMD_TENANT=demo
STREAMD_START=earliest
STREAMD_HTTP_ADDR=127.0.0.1:9464
CONF
printf 'eght_ci_credential_key' >"$tmp/api_key"
cat >"$tmp/Containerfile" <<CONF
FROM $base
COPY streamd /usr/local/bin/streamd
COPY streamd.service streamd-emulator.service watchdog-control.service /etc/systemd/system/
COPY watchdog.conf /etc/systemd/system/streamd.service.d/
COPY streamd.env /etc/streamd/streamd.env
COPY --chmod=0600 api_key /etc/streamd/api_key
RUN ln -s /etc/systemd/system/streamd.service /etc/systemd/system/multi-user.target.wants/ && \
    ln -s /etc/systemd/system/streamd-emulator.service /etc/systemd/system/multi-user.target.wants/
CMD ["/sbin/init"]
CONF
podman build --layers=false --pull=never -t localhost/streamd-ci-systemd:ci "$tmp" >/dev/null
podman image prune -f >/dev/null

step "boot"
podman run -d --name "$name" --systemd=always --network=none localhost/streamd-ci-systemd:ci /sbin/init >/dev/null
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local deadline=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
		sleep 0.3
	done
}
booted() {
	local st
	st=$(podman exec "$name" systemctl is-system-running 2>/dev/null) || true
	[ "$st" = running ] || [ "$st" = degraded ]
}
wait_for 60 "systemd to boot" booted
echo "system: $(podman exec "$name" systemctl is-system-running 2>&1)"
podman exec "$name" systemctl --failed --no-pager --plain --no-legend || true
show() { podman exec "$name" systemctl show streamd -p "$1" --value; }

step "READY=1"
# Type=notify: "active" only after READY=1.
wait_for 60 "streamd.service active" bash -c "[ \"\$(podman exec $name systemctl is-active streamd)\" = active ]"
podman exec "$name" systemctl status --no-pager streamd | head -12 || true
pid=$(show MainPID)
[ "$pid" -gt 0 ] || fail "no main PID"

step "sandbox and credential"
uid=$(podman exec "$name" awk '/^Uid:/{print $2}' "/proc/$pid/status")
capeff=$(podman exec "$name" awk '/^CapEff:/{print $2}' "/proc/$pid/status")
nnp=$(podman exec "$name" awk '/^NoNewPrivs:/{print $2}' "/proc/$pid/status")
echo "main pid $pid: uid $uid, CapEff $capeff, NoNewPrivs $nnp"
[ "$uid" != 0 ] || fail "runs as root; DynamicUser= not applied"
[ "$capeff" = 0000000000000000 ] || fail "has capabilities $capeff"
[ "$nnp" = 1 ] || fail "NoNewPrivs not set"
podman exec "$name" test -s /run/credentials/streamd.service/api_key || fail "credential api_key missing"
creds=$(podman exec "$name" cat "/proc/$pid/environ" | tr '\0' '\n' | grep -E '^(CREDENTIALS_DIRECTORY|STATE_DIRECTORY)=' | tr '\n' ' ')
echo "credential present; $creds"
if podman exec "$name" cat "/proc/$pid/environ" | tr '\0' '\n' | grep -q eght_ci_credential_key; then
	fail "the API key is in the process environment"
fi
# The env file has no key, so READY=1 means streamd read the credential.

step "events in the state directory, not in the journal, and STATUS="
# The unit's default sink is a file in the state directory: events carry
# customer data and must not land in the journal.
events=/var/lib/streamd/events.jsonl
file_events() { podman exec "$name" sh -c "cat $events 2>/dev/null | grep -c messageId" || true; }
journal_events() { podman exec "$name" journalctl -u streamd -o cat --no-pager | grep -c '"messageId":' || true; }
enough_events() { [ "$(file_events)" -ge 5 ]; }
wait_for 30 "events in $events" enough_events
echo "events in $events: $(file_events)"
[ "$(journal_events)" = 0 ] || fail "$(journal_events) events in the journal"
echo "no events in the journal"
echo "STATUS: $(show StatusText)"
if podman exec "$name" journalctl --no-pager -o cat | grep -q eght_ci_credential_key; then
	fail "the API key appears in the journal"
fi
echo "the key does not appear in the journal"

step "watchdog"
wd=$(show WatchdogUSec)
echo "WatchdogUSec=$wd"
[ "$wd" = 4s ] || fail "watchdog not armed (WatchdogUSec=$wd)"
before=$(show NRestarts)
t0=$(date +%s)
podman exec "$name" systemctl start watchdog-control
wait_for 15 "the watchdog to kill the control unit" bash -c \
	"[ \"\$(podman exec $name systemctl show watchdog-control -p Result --value)\" = watchdog ]"
echo "control unit without pings: Result=watchdog"
wait_for 30 "three watchdog periods" bash -c "[ \$(( \$(date +%s) - $t0 )) -ge 13 ]"
[ "$(show NRestarts)" = "$before" ] || fail "restarted during the watchdog window (NRestarts $(show NRestarts))"
[ "$(show MainPID)" = "$pid" ] || fail "main PID changed: the watchdog fired"
[ "$(show ActiveState)" = active ] || fail "not active after 3 watchdog periods"
echo "fed: same PID $pid, active, NRestarts=$before after 13 s"

step "reload (SIGHUP)"
podman exec "$name" systemctl reload streamd
sleep 1 # let a mishandled SIGHUP (default action: exit) take effect
if [ "$(show MainPID)" != "$pid" ] || [ "$(show ActiveState)" != active ]; then
	fail "reload stopped the service"
fi
echo "still active, same PID"

step "state dir lock and the documented pre-flight check"
# The block after <!-- ci: .ci/systemd-boot.sh --> in systemd/README.md, as documented
# (without sudo: root in the container). Beside the running service it must
# report the owner; after the stop below it must pass.
preflight=$(awk '/^<!-- ci: .ci\/systemd-boot.sh -->/{m=1; next} m && /^```/{if (b) exit; b=1; next} b' "$repo/systemd/README.md" | sed 's/^sudo //')
[ -n "$preflight" ] || fail "no <!-- ci: .ci/systemd-boot.sh --> block in systemd/README.md"
unit_env=$(sed -n 's/^Environment=//p' "$repo/systemd/streamd.service" | sed 's|%S|/var/lib|g')
grep -qF "'Environment=$unit_env'" <<<"$preflight" || fail "the pre-flight check's Environment= is not the unit's ($unit_env)"
if out=$(podman exec "$name" sh -c "$preflight" 2>&1); then
	echo "$out"
	fail "check passed beside the running service, which holds the state dir"
fi
grep -q "in use by a running streamd (pid $pid)" <<<"$out" || { echo "$out"; fail "check did not name the owner's pid $pid"; }
echo "beside the service: $(grep '^state dir' <<<"$out")"

step "systemctl stop"
t0=$(date +%s%N)
podman exec "$name" systemctl stop streamd
echo "stop took $((($(date +%s%N) - t0) / 1000000)) ms; Result=$(show Result) ExecMainStatus=$(show ExecMainStatus)"
[ "$(show Result)" = success ] || fail "Result=$(show Result) after stop"
podman exec "$name" journalctl -u streamd -o cat --no-pager | grep -v '"messageId":' | tail -5

out=$(podman exec "$name" sh -c "$preflight" 2>&1) || { echo "$out"; fail "the documented pre-flight check failed"; }
echo "$out"
grep -q '^state dir      ok    /var/lib/streamd' <<<"$out" || fail "the pre-flight check did not probe /var/lib/streamd"

echo
echo "PASS systemd-boot ($(($(date +%s) - start)) s)"
