#!/bin/bash
# What this host changes on top of the bootc image built from profile "studio":
# its drop-ins under /etc, its units, its accounts and its kernel arguments. Run
# it once, as root, on the running host at its first boot (cloud-init runcmd,
# your configuration management, or by hand); running it again changes nothing
# more. Kernel arguments apply from the next boot.
# Rendered by rtaudio-tuning 0.1.0: edit the inventory and re-render, not this file.
set -eu
# Groups an image keeps in /usr/lib/group (nss-altfiles) are copied to
# /etc/group first: usermod and useradd only change /etc/group.
for group in audio realtime; do
    if ! grep -q "^$group:" /etc/group && grep -q "^$group:" /usr/lib/group 2>/dev/null; then
        grep "^$group:" /usr/lib/group >>/etc/group
    fi
done
if ! id -u engineer >/dev/null 2>&1; then
    useradd -m engineer
fi
usermod -a -G audio,realtime engineer
usermod -L engineer
# getent fails the script (set -e) for a missing account; an entry without
# a home folder must not send the keys to /.ssh.
entry=$(getent passwd engineer)
home=$(printf '%s\n' "$entry" | cut -d: -f6)
case $home in /?*) ;; *) echo "engineer has no home folder" >&2; exit 1 ;; esac
install -d -m 0700 -o engineer -g "$(id -g engineer)" "$home/.ssh"
touch "$home/.ssh/authorized_keys"
grep -qxF 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN7CE19TUOaCAwuZR+/zXoIjNPJnZjVL5bvdZ/XK6nKV engineer@booth' "$home/.ssh/authorized_keys" || printf '%s\n' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN7CE19TUOaCAwuZR+/zXoIjNPJnZjVL5bvdZ/XK6nKV engineer@booth' >>"$home/.ssh/authorized_keys"
chown engineer: "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
