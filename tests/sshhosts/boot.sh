#!/bin/sh
# PID 1 of a test host until it execs its init. Started by host.py as
#   nsenter --net=/run/netns/NAME unshare --uts --mount --pid --ipc --fork ... boot.sh enter ...
# so it runs (as the real machine's /bin/sh) in fresh namespaces, sees the real filesystem, and
# must turn the host's merged overlay into `/` before handing PID 1 over.
# Args: enter|setup ROOT HOSTNAME CGROUP_DIR systemd|sshd-only DROPPED_CAPS
set -eu
stage=$1 root=$2 name=$3 cgroup=$4 init=$5 drop=$6

if [ "$stage" = enter ]; then
    # Move into the host's own cgroup v2 subtree first, so the cgroup namespace created next is
    # rooted there: systemd then owns /sys/fs/cgroup inside, and freeze/kill act on the host.
    echo 0 > "$cgroup/cgroup.procs"
    exec unshare --cgroup /bin/sh "$0" setup "$root" "$name" "$cgroup" "$init" "$drop"
fi

hostname "$name"
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# Kernel-wide knobs stay read-only: a sysctl written in a host must not reach the machine.
for knob in sys sysrq-trigger; do
    [ -e "$root/proc/$knob" ] || continue
    mount --bind "$root/proc/$knob" "$root/proc/$knob"
    mount -o remount,bind,ro "$root/proc/$knob"
done
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"

# A private /dev with only harmless nodes: the machine's disks are not reachable from a host.
mount -t tmpfs -o nosuid,noexec,mode=755,size=16m dev "$root/dev"
for node in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- $node
    mknod -m 666 "$root/dev/$1" c "$2" "$3"
done
# /dev/console is the host's console.log (our stdout): what is written there stays readable.
touch "$root/dev/console"
mount --bind /proc/self/fd/1 "$root/dev/console"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=755,size=256m run "$root/run"

# pivot_root (not chroot): the host must not keep the machine's mounts, or it would pin the
# other hosts' overlays and show them in its mount table.
cd "$root"
pivot_root . .
umount -l .
cd /

path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ "$init" = systemd ]; then
    exec setpriv --bounding-set "$drop" -- \
        /usr/bin/env -i container=axis-testhost PATH="$path" /lib/systemd/systemd
fi
# Fallback init: a shell that starts sshd and reaps orphans until it is told to stop.
mkdir -p /run/sshd
exec setpriv --bounding-set "$drop" -- /usr/bin/env -i PATH="$path" /bin/sh -c '
    trap "exit 0" TERM INT
    /usr/sbin/sshd
    while :; do sleep 1 & wait $! || :; done'
