"""Run generated files through the programs that will read them on a real host.

Every check runs in its own mount namespace (`unshare -m`) with copy-on-write overlays over the
host directories a generated file names, so the files can be put (and bind sources created)
exactly where the units and .nspawn files expect them, without touching the machine running the
tests. Each check returns the consumer's complaints; an empty list means "accepted".
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import tempfile

NSPAWN_BOOTSTRAP_TOOLS = ("unshare", "systemd-analyze", "systemd-nspawn", "busybox")
NETWORKD = "/lib/systemd/systemd-networkd"


def tools_available() -> list[str]:
    missing = [t for t in NSPAWN_BOOTSTRAP_TOOLS if shutil.which(t) is None]
    if not os.path.exists(NETWORKD):
        missing.append(NETWORKD)
    if os.geteuid() != 0:
        missing.append("root")
    return missing


# One shell preamble for all checks: overlays with tmpfs upper layers over the directories a
# converted project lives in, so nothing reaches the real /etc, /var or /srv.
_OVERLAYS = r"""
set -eu
scratch=$(mktemp -d)
mount -t tmpfs tmpfs "$scratch"
for dir in /etc /var /srv /opt /home /mnt /data; do
    [ -d "$dir" ] || continue
    name=$(echo "$dir" | tr / _)
    mkdir -p "$scratch/$name.up" "$scratch/$name.work"
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$scratch/$name.up,workdir=$scratch/$name.work" "$dir"
done
mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd; mount -t tmpfs tmpfs /run/systemd; }
"""


def _run_in_namespace(script: str, args: list[str], timeout: float = 60, net: bool = False):
    cmd = ["unshare", "-m"] + (["-n"] if net else []) + ["bash", "-c", _OVERLAYS + script, "check"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def unit_files(out: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in out.iterdir() if p.suffix in (".service", ".socket", ".target"))


_EXEC = re.compile(r"^Exec\w+=[-@:+!]*(/\S+)", re.M)


def referenced_executables(out: pathlib.Path) -> set[str]:
    return {m.group(1) for p in unit_files(out) for m in _EXEC.finditer(p.read_text())}


def check_units(out: pathlib.Path, config_dir: str) -> list[str]:
    return check_units_many([(out, config_dir)])


def check_units_many(outputs) -> list[str]:
    """`systemd-analyze verify` with each project's files installed where its units run them
    (several projects at once: their unit names never collide). Any output at all is a complaint
    (verify only warns for unknown keys and bad values)."""
    problems, args = [], []
    for out, config_dir in outputs:
        units = unit_files(out)
        for exe in sorted(referenced_executables(out)):
            if exe.startswith(config_dir + "/") and not (out / exe[len(config_dir) + 1:]).is_file():
                problems.append(f"{exe}: referenced by a unit but not in the output directory")
        if units:
            args += [str(out), config_dir, str(len(units))] + [str(u) for u in units]
    if not args:
        return problems
    script = r"""
mkdir -p /etc/systemd/system
names=()
while [ $# -gt 0 ]; do
    out=$1 config_dir=$2 n=$3; shift 3
    mkdir -p "$config_dir"
    cp -a "$out"/. "$config_dir"/
    for _ in $(seq "$n"); do cp "$1" /etc/systemd/system/; names+=("${1##*/}"); shift; done
done
cd /etc/systemd/system
systemd-analyze verify --man=no "${names[@]}" 2>&1
"""
    r = _run_in_namespace(script, args, timeout=600)
    text = (r.stdout + r.stderr).strip()
    if r.returncode or text:
        problems.append(f"systemd-analyze verify (rc={r.returncode}):\n{text}")
    return problems


def check_networkd(out: pathlib.Path) -> list[str]:
    return check_networkd_many([out])


def check_networkd_many(outputs) -> list[str]:
    """Standalone systemd-networkd in a private network namespace builds each bridge; file:line
    messages are complaints, and every bridge must come up with its address."""
    netdevs = sorted(nd for out in outputs for nd in out.glob("*.netdev"))
    if not netdevs:
        return []
    expected = {}
    for nd in netdevs:
        network = nd.with_suffix(".network").read_text()
        address = re.search(r"^Address=(\S+)$", network, re.M).group(1)
        expected[nd.stem] = address
    script = r"""
mkdir -p /run/systemd/network
while [ "$1" != -- ]; do cp "$1" /run/systemd/network/; shift; done
shift
mount -o bind,ro /sys /sys
SYSTEMD_LOG_LEVEL=info /lib/systemd/systemd-networkd > /tmp/networkd.log 2>&1 &
pid=$!
for _ in $(seq 200); do
    ok=1
    for want in "$@"; do
        ip -br addr show dev "${want%%=*}" 2>/dev/null | grep -qF " ${want#*=}" || ok=0
    done
    [ $ok = 1 ] && break
    sleep 0.05
done
kill $pid; wait $pid 2>/dev/null || true
cat /tmp/networkd.log
echo "--- links"
ip -br addr
"""
    files = [str(p) for nd in netdevs for p in (nd, nd.with_suffix(".network"))]
    r = _run_in_namespace(script, files + ["--"] + [f"{k}={v}" for k, v in expected.items()],
                          net=True, timeout=300)
    log, _, links = r.stdout.partition("--- links")
    problems = [line for line in log.splitlines()
                if re.search(r"\.(netdev|network):\d+:", line) or "Failed" in line or "rror" in line]
    for bridge, address in expected.items():
        if not re.search(rf"^{re.escape(bridge)}\s+\S+\s+{re.escape(address)}\b", links, re.M):
            problems.append(f"bridge {bridge} did not come up with {address}:\n{links}\n{r.stderr}")
    return problems


def busybox_rootfs(where: pathlib.Path) -> pathlib.Path:
    """A tiny rootfs: busybox, `/usr` (nspawn requires it), and `argv`/`environ` printers."""
    root = where / "rootfs"
    for d in ("bin", "usr", "etc", "proc", "sys", "dev", "run", "tmp", "var"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("busybox"), root / "bin" / "busybox")
    for applet in ("sh", "true", "cat", "env", "printf", "tr", "od"):
        (root / "bin" / applet).symlink_to("busybox")
    # NUL-separated, so the test reads back exactly what the kernel handed the process.
    (root / "bin" / "show").write_text(
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\nprintf '\\1'\n"
        "cat /proc/self/environ\n")
    (root / "bin" / "show").chmod(0o755)
    return root


_NSPAWN_SCRIPT = r"""
rootfs=$1 settings=$2 machine=$3; shift 3
mkdir -p /run/systemd/nspawn
cp "$settings" "/run/systemd/nspawn/$machine.nspawn"
unescape() { printf '%s' "$1" | sed -E 's/\\(.)/\1/g'; }
# The machine root: a fresh copy-on-write layer over the test image, as rootfs.sh gives a machine.
layer=$(mktemp -d)
mount -t tmpfs tmpfs "$layer"
mkdir -p "$layer/upper" "$layer/work" "$layer/root"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$layer/upper,workdir=$layer/work" "$layer/root"
root=$layer/root
# What exists on a real host before nspawn starts: bind sources (install.sh/prepare.sh create
# them) and, in the machine root, mount points and the working directory (prepare.sh's job per
# docs/runtime.md; needed with ReadOnly=yes, where nspawn cannot create them itself).
while IFS= read -r line; do
    key=${line%%=*} value=${line#*=}
    case "$key" in
        Bind|BindReadOnly)
            source=$(printf '%s' "$value" | sed -E 's/^((\\.|[^\\:])*).*/\1/')
            rest=${value:${#source}}; rest=${rest#:}
            target=$(printf '%s' "$rest" | sed -E 's/^((\\.|[^\\:])*).*/\1/')
            source=$(unescape "$source"); target=$(unescape "$target")
            [ -n "$target" ] || target=$source
            if [ ! -e "$source" ]; then
                case "$source" in
                    */hosts|*.conf|*/secrets/*|*/configs/*) mkdir -p "${source%/*}"; : > "$source" ;;
                    *) mkdir -p "$source" ;;
                esac
            fi
            if [ -d "$source" ]; then mkdir -p "$root$target"
            else mkdir -p "$root${target%/*}"; [ -e "$root$target" ] || : > "$root$target"; fi ;;
        TemporaryFileSystem)
            target=$(printf '%s' "$value" | sed -E 's/^((\\.|[^\\:])*).*/\1/')
            mkdir -p "$root$(unescape "$target")" ;;
        WorkingDirectory) mkdir -p "$root$value" ;;
    esac
done < "$settings"
systemd-nspawn --quiet --register=no --keep-unit --console=pipe --private-network \
    -M "$machine" -D "$root" "$@" < /dev/null
"""


def run_nspawn(rootfs: pathlib.Path, settings: pathlib.Path, machine: str, argv=()) -> subprocess.CompletedProcess:
    return _run_in_namespace(_NSPAWN_SCRIPT, [str(rootfs), str(settings), machine] + list(argv))


def check_nspawn(settings: pathlib.Path, rootfs: pathlib.Path) -> list[str]:
    """systemd-nspawn reads the file from a trusted location and starts /bin/true with it: every
    `file:line` message is a complaint, and the machine must start."""
    machine = settings.stem
    r = run_nspawn(rootfs, settings, machine, ["/bin/true"])
    text = (r.stdout + r.stderr).strip()
    lines = [l for l in text.splitlines() if "Attempted to remove disk file system" not in l]
    if r.returncode or lines:
        return [f"systemd-nspawn with {settings.name} (rc={r.returncode}):\n" + "\n".join(lines)]
    return []


_NSPAWN_MANY = r"""
rootfs=$1; shift
mkdir -p /run/systemd/nspawn
for settings in "$@"; do
    machine=${settings##*/}; machine=${machine%.nspawn}
    echo "=== $settings"
    bash -c "$NSPAWN_ONE" check "$rootfs" "$settings" "$machine" /bin/true 2>&1 || echo "rc=$?"
done
"""


def check_nspawn_many(settings_files, rootfs: pathlib.Path) -> list[str]:
    """Like `check_nspawn`, for many files in one namespace (the corpus run)."""
    if not settings_files:
        return []
    script = "export NSPAWN_ONE=" + _sh_single(_NSPAWN_SCRIPT) + "\n" + _NSPAWN_MANY
    r = _run_in_namespace(script, [str(rootfs)] + [str(s) for s in settings_files], timeout=1200)
    problems = []
    for chunk in r.stdout.split("=== ")[1:]:
        name, _, body = chunk.partition("\n")
        lines = [l for l in body.splitlines() if l.strip() and "Attempted to remove disk file" not in l]
        if lines:
            problems.append(f"systemd-nspawn with {name}:\n" + "\n".join(lines))
    if r.returncode:
        problems.append(f"nspawn batch failed (rc={r.returncode}): {r.stderr}")
    return problems


def _sh_single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def check_scripts(out: pathlib.Path) -> list[str]:
    problems = []
    for script in sorted(out.rglob("*.sh")):
        r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        if r.returncode:
            problems.append(f"bash -n {script.name}: {r.stderr}")
        if shutil.which("shellcheck"):
            r = subprocess.run(["shellcheck", "-x", "-S", "warning", str(script)],
                               capture_output=True, text=True, cwd=script.parent)
            if r.returncode:
                problems.append(f"shellcheck {script.relative_to(out)}:\n{r.stdout}{r.stderr}")
    return problems


def check_output_dir(out: pathlib.Path, config_dir: str, rootfs: pathlib.Path,
                     nspawn_limit: int | None = None) -> list[str]:
    problems = check_units(out, config_dir) + check_networkd(out) + check_scripts(out)
    settings = sorted(out.glob("*.nspawn"))
    for s in settings[:nspawn_limit]:
        problems += check_nspawn(s, rootfs)
    return problems


def scratch_dir() -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix="dekube-consumers-"))
