#!/bin/bash
# What this host changes on top of the bootc image built from profile "{{ base }}":
# its drop-ins under /etc, its accounts and its kernel arguments. Run it once, as
# root, on the installed host (from the installer's %post, cloud-init or your
# configuration management); running it again changes nothing more.
# Rendered by {{ tool }} {{ version }}: edit the inventory and re-render, not this file.
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
{% if users -%}
{% for u in users -%}
if ! id -u {{ u.name }} >/dev/null 2>&1; then
    useradd -m {{ u.name }}
fi
usermod -a -G {{ u.groups | join(sep=",") }} {{ u.name }}
{% if u.password_hash -%}
usermod -p '{{ u.password_hash }}' {{ u.name }}
{% else -%}
passwd -l {{ u.name }} >/dev/null
{% endif -%}
{% if u.ssh_keys -%}
home=$(getent passwd {{ u.name }} | cut -d: -f6)
install -d -m 0700 -o {{ u.name }} -g {{ u.name }} "$home/.ssh"
touch "$home/.ssh/authorized_keys"
{% for k in u.ssh_keys -%}
grep -qxF '{{ k }}' "$home/.ssh/authorized_keys" || printf '%s\n' '{{ k }}' >>"$home/.ssh/authorized_keys"
{% endfor -%}
chown {{ u.name }}: "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
{% endif -%}
{% endfor -%}
{% endif -%}
{% if kargs_add or kargs_remove -%}
# Kernel arguments of this host beyond the image's kargs.d: kept across image
# updates, applied at the next boot.
rpm-ostree kargs{% for a in kargs_add %} --append-if-missing={{ a }}{% endfor %}{% for a in kargs_remove %} --delete-if-present={{ a }}{% endfor %}
echo "kernel arguments changed: reboot to apply them" >&2
{% endif -%}
