#!/usr/bin/env bash
# .ci/container.sh: build the Dockerfile for real with podman and run the
# image against the emulator.
#   1. install podman, buildah, runc, uidmap, busybox-static from Debian if missing
#   2. configure podman for this machine (cgroupfs, runc, vfs, host netns, low ulimits)
#   3. import a local Go builder image (busybox + host GOROOT + CA bundle); no
#      registry is reachable, so GO_IMAGE/RUNTIME_IMAGE are passed as build args
#   4. podman build the repo's Dockerfile (multi-stage, real `go build` inside)
#      with the version, revision and creation time as build args, and check
#      the OCI labels and `streamd version` in the image report them
#   5. run `streamd emulate` on the host, run the image non-root, --read-only,
#      --cap-drop=all, and assert: events on stdout, /readyz 200, and a
#      graceful `podman stop` (SIGTERM) with exit code 0
# Idempotent: the podman storage under $CI_STREAMD_PODMAN_DIR is reused, so
# reruns hit the build cache. Exits non-zero on any failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
context=${CI_STREAMD_CONTEXT:-$repo} # build context (tests of this script use a copy)
state=${CI_STREAMD_PODMAN_DIR:-/var/tmp/streamd-ci-podman}
image=localhost/streamd:ci
name=streamd-ci-$$
start=$(date +%s)
step() { printf '\n== container: %s (%ds)\n' "$*" "$(($(date +%s) - start))"; }
fail() { printf 'FAIL container: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d)
emu_pid=
cleanup() {
	set +e
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	podman rm -f -t 0 "$name" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=.ci/podman.sh
. "$repo/.ci/podman.sh"

step "tools"
podman_setup "$state" podman:podman buildah:buildah runc:runc newuidmap:uidmap busybox:busybox-static \
	curl:curl /etc/ssl/certs/ca-certificates.crt:ca-certificates
command -v go >/dev/null || fail "go is needed on the host (emulator and the builder image's GOROOT)"
echo "$(podman --version), $(go version)"

step "podman configuration ($state)"
podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Store.GraphDriverName}}'

step "local builder image"
gover=$(go env GOVERSION)
go_image=localhost/streamd-ci-golang:$gover
if podman image exists "$go_image"; then
	echo "reusing $go_image"
else
	root=$tmp/gorootfs
	mkdir -p "$root/bin" "$root/usr/local" "$root/etc/ssl/certs" "$root/tmp" "$root/root"
	chmod 1777 "$root/tmp"
	cp "$(command -v busybox)" "$root/bin/busybox"
	for a in sh ls cat env mkdir cp rm mv chmod chown; do ln -s busybox "$root/bin/$a"; done
	cp -a "$(go env GOROOT)" "$root/usr/local/go"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	tar -C "$root" -c . | podman import \
		--change 'ENV PATH=/usr/local/go/bin:/go/bin:/bin' --change 'ENV GOTOOLCHAIN=local' \
		--change "ENV GOPROXY=$(go env GOPROXY)" --change 'WORKDIR /root' - "$go_image" >/dev/null
	rm -rf "$root"
	echo "imported $go_image"
fi

step "podman build $context/Dockerfile"
[ -f "$context/cmd/streamd/main.go" ] || ls "$context"/cmd/streamd/*.go >/dev/null 2>&1 ||
	fail "$context/cmd/streamd has no Go files yet"
version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo ci)
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
build_start=$(date +%s)
# --layers=false: with vfs storage every committed layer is a full copy of
# the builder's root (about 300 MB); the cache mounts keep rebuilds fast.
podman build --layers=false --network=host --pull=never \
	--build-arg GO_IMAGE="$go_image" --build-arg RUNTIME_IMAGE=scratch \
	--build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
	-t "$image" -f "$context/Dockerfile" "$context"
echo "build took $(($(date +%s) - build_start)) s"
podman image prune -f >/dev/null # the previous build's now-untagged image

step "image checks"
podman image inspect "$image" --format \
	'user={{.Config.User}} stop={{.Config.StopSignal}} entrypoint={{.Config.Entrypoint}} cmd={{.Config.Cmd}} size={{.Size}}'
user=$(podman image inspect "$image" --format '{{.Config.User}}')
[ "$user" = 65532:65532 ] || fail "image user is '$user', want 65532:65532"
[ "$(podman image inspect "$image" --format '{{.Config.StopSignal}}')" = SIGTERM ] || fail "STOPSIGNAL is not SIGTERM"
if podman image inspect "$image" --format '{{range .Config.Env}}{{println .}}{{end}}' | grep -Ei '(KEY|TOKEN|SECRET|PASSWORD)='; then
	fail "the image bakes a secret-looking variable into its environment"
fi
label() { podman image inspect "$image" --format "{{index .Labels \"org.opencontainers.image.$1\"}}"; }
for kv in source=https://github.com/streamd/streamd licenses=Apache-2.0 \
	version="$version" revision="$revision" created="$created"; do
	got=$(label "${kv%%=*}")
	[ "$got" = "${kv#*=}" ] || fail "label org.opencontainers.image.${kv%%=*} is '$got', want '${kv#*=}'"
	echo "label org.opencontainers.image.${kv%%=*}=$got"
done
podman run --rm --network none "$image" version | tee "$tmp/version.txt"
grep -q "^streamd $version\$" "$tmp/version.txt" || fail "streamd version in the image does not say $version"
grep -q "^commit: *$revision\$" "$tmp/version.txt" || fail "streamd version in the image does not say commit $revision"
size=$(podman image inspect "$image" --format '{{.Size}}')
echo "image size: $((size / 1024 / 1024)) MiB ($size bytes)"

step "emulator on the host"
free_port() { # a loopback port nobody listens on
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
	local deadline=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
		sleep 0.2
	done
}
(cd "$context" && CGO_ENABLED=0 go build -o "$tmp/streamd" ./cmd/streamd)
emu_port=$(free_port)
http_port=$(free_port)
STREAMD_EMULATOR_ADDR=127.0.0.1:$emu_port STREAMD_EMULATOR_RATE=${CI_STREAMD_RATE:-50} \
	"$tmp/streamd" emulate >"$tmp/emulator.log" 2>&1 &
emu_pid=$!
wait_for 20 "the emulator on port $emu_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$emu_port" 2>/dev/null
echo "emulator pid $emu_pid on 127.0.0.1:$emu_port"

step "podman run (non-root, read-only, no capabilities)"
podman run -d --name "$name" --network host --read-only --cap-drop=all \
	--security-opt no-new-privileges --user 65532:65532 \
	--tmpfs /var/lib/streamd:rw,U,mode=0700 \
	-e STREAMD_ENDPOINT="ws://127.0.0.1:$emu_port" -e STREAMD_TENANT=demo \
	-e STREAMD_API_KEY=eght_ci_test_key -e STREAMD_START=earliest \
	-e STREAMD_HTTP_ADDR="127.0.0.1:$http_port" \
	"$image" >/dev/null
echo "container $name, http on 127.0.0.1:$http_port"

running() { [ "$(podman inspect "$name" --format '{{.State.Running}}')" = true ]; }
events() { podman logs "$name" 2>/dev/null | grep -c '"messageId":' || true; }
has_events() {
	running || { podman logs "$name" | tail -20; fail "the container exited early"; }
	[ "$(events)" -ge 10 ]
}
wait_for 60 "10 events on the container's stdout" has_events
echo "events on stdout: $(events)"
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/readyz")" = 200 ]; }
wait_for 30 "/readyz 200" ready
echo "/readyz: 200 $(curl -s "http://127.0.0.1:$http_port/readyz" | tr -d ' \n')"
curl -sf "http://127.0.0.1:$http_port/metrics" | grep -E '^streamd_events_(received|acked)_total' || true

step "podman stop -t 30 (SIGTERM)"
stop_start=$(date +%s)
podman stop -t 30 "$name" >/dev/null
took=$(($(date +%s) - stop_start))
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
echo "stopped in ${took}s, exit code $code, events: $(events)"
podman logs "$name" 2>&1 >/dev/null | tail -5
[ "$code" = 0 ] || fail "exit code $code after SIGTERM, want 0"
if podman logs "$name" 2>&1 | grep -q eght_ci_test_key; then
	fail "the API key appears in the container's output"
fi
[ "$took" -lt 30 ] || fail "stop took ${took}s: SIGTERM was not honoured (killed at the timeout)"

echo
echo "PASS container ($(($(date +%s) - start)) s; image $((size / 1024 / 1024)) MiB)"
