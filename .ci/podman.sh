# .ci/podman.sh: sourced by container.sh and systemd-boot.sh.
# podman_setup STATE_DIR PACKAGE_SPEC...
#   installs the missing tools from Debian (each spec is command:package,
#   or /path/of/a/file:package),
#   then configures podman for this kind of machine and exports the config:
#   cgroup v1 hybrid, no systemd as PID 1 and no CAP_SYS_RESOURCE, so
#   cgroupfs, runc (crun refuses hybrid cgroups), low ulimits, vfs storage
#   and the host netns. The storage under STATE_DIR is reused between runs.
podman_setup() {
	local state=$1 spec need=()
	shift
	for spec in "$@"; do
		case $spec in
		/*) [ -e "${spec%%:*}" ] || need+=("${spec#*:}") ;;
		*) command -v "${spec%%:*}" >/dev/null || need+=("${spec#*:}") ;;
		esac
	done
	if [ ${#need[@]} -gt 0 ]; then
		echo "installing from Debian: ${need[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
	mkdir -p "$state"
	cat >"$state/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
	cat >"$state/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
	export CONTAINERS_CONF=$state/containers.conf CONTAINERS_STORAGE_CONF=$state/storage.conf
}
