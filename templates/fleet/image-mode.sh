{% if package -%}
# What this host changes on top of the {{ tool }} package of profile "{{ base }}":
# its own copies of our files under /etc (the package's stay as they are, so its
# updates keep applying), its units, and its kernel arguments in
# {{ host_kargs_file }}, which the package keeps on the boot entries
# instead of the profile's. Its accounts are the kickstart's commands.
{% else -%}
#!/bin/bash
# What this host changes on top of the bootc image built from profile "{{ base }}":
# its drop-ins under /etc, its units, its accounts and its kernel arguments. Run
# it once, as root, on the running host at its first boot (cloud-init runcmd,
# your configuration management, or by hand); running it again changes nothing
# more. Kernel arguments apply from the next boot.
# Rendered by {{ tool }} {{ version }}: edit the inventory and re-render, not this file.
{% endif -%}
set -eu
{% for f in files -%}
install -d -m 0755 {{ f.dir }}
cat >{{ f.path }} <<'{{ heredoc }}'
{{ f.content }}{{ heredoc }}
chmod {{ f.mode_octal }} {{ f.path }}
{% endfor -%}
{% for path in skipped -%}
# Not applied: {{ path }} differs for this host but lives in the read-only image;
# build a separate image for hosts like this one.
{% endfor -%}
{% if removed -%}
rm -f {{ removed | join(sep=" ") }}
{% endif -%}
{% for path in kept -%}
# Left as the image's: {{ path }}, which this host does not use (ostree would
# keep a removal as it keeps any change to the image's /etc).
{% endfor -%}
{% if files or removed -%}
systemctl daemon-reload
{% endif -%}
{% if restart -%}
# Running units read this host's files from now on.
systemctl try-restart {{ restart | join(sep=" ") }}
{% endif -%}
{% if enable -%}
systemctl enable {{ enable | join(sep=" ") }}
{% endif -%}
{% if disable -%}
systemctl disable {{ disable | join(sep=" ") }}
{% endif -%}
{% if mask -%}
systemctl mask {{ mask | join(sep=" ") }}
{% endif -%}
{% if unmask -%}
systemctl unmask {{ unmask | join(sep=" ") }}
{% endif -%}
{% if users -%}
# Groups an image keeps in /usr/lib/group (nss-altfiles) are copied to
# /etc/group first: usermod and useradd only change /etc/group.
for group in {{ groups | join(sep=" ") }}; do
    if ! grep -q "^$group:" /etc/group && grep -q "^$group:" /usr/lib/group 2>/dev/null; then
        grep "^$group:" /usr/lib/group >>/etc/group
    fi
done
{% for u in users -%}
if ! id -u {{ u.name }} >/dev/null 2>&1; then
    useradd -m {{ u.name }}
fi
usermod -a -G {{ u.groups | join(sep=",") }} {{ u.name }}
{% if u.password_hash -%}
usermod -p '{{ u.password_hash }}' {{ u.name }}
{% else -%}
usermod -L {{ u.name }}
{% endif -%}
{% if u.ssh_keys -%}
# getent fails the script (set -e) for a missing account; an entry without
# a home folder must not send the keys to /.ssh.
entry=$(getent passwd {{ u.name }})
home=$(printf '%s\n' "$entry" | cut -d: -f6)
case $home in /?*) ;; *) echo "{{ u.name }} has no home folder" >&2; exit 1 ;; esac
install -d -m 0700 -o {{ u.name }} -g "$(id -g {{ u.name }})" "$home/.ssh"
touch "$home/.ssh/authorized_keys"
{% for k in u.ssh_keys -%}
grep -qxF {{ k | sq }} "$home/.ssh/authorized_keys" || printf '%s\n' {{ k | sq }} >>"$home/.ssh/authorized_keys"
{% endfor -%}
chown {{ u.name }}: "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
{% endif -%}
{% endfor -%}
{% endif -%}
{% if package and (kargs_add or kargs_remove) -%}
install -d -m 0755 {{ host_kargs_dir }}
printf '%s\n' {{ host_kargs | sq }} >{{ host_kargs_file }}
{% elif kargs_add or kargs_remove -%}
# Kernel arguments of this host beyond the image's kargs.d: kept across image
# updates, applied at the next boot. Old values go first, then the new ones
# (a changed value is a removal and an addition).
changed=0
{% if kargs_remove -%}
if rpm-ostree kargs --unchanged-exit-77{% for a in kargs_remove %} --delete-if-present={{ a }}{% endfor %}; then
    changed=1
else
    status=$?
    [ "$status" -eq 77 ] || exit "$status"
fi
{% endif -%}
{% if kargs_add -%}
if rpm-ostree kargs --unchanged-exit-77{% for a in kargs_add %} --append-if-missing={{ a }}{% endfor %}; then
    changed=1
else
    status=$?
    [ "$status" -eq 77 ] || exit "$status"
fi
{% endif -%}
if [ "$changed" -eq 1 ]; then
    echo "kernel arguments changed: reboot to apply them" >&2
fi
{% endif -%}
