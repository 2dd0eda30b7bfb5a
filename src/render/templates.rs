//! The embedded tera templates and the filters they use. Autoescape is off (none
//! of our outputs is HTML); undefined variables are errors, as tera makes them.

use std::collections::HashMap;

use tera::{Tera, Value};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "rootfs/limits.conf",
    "rootfs/sysusers.conf",
    "rootfs/irqbalance.env",
    "rootfs/irqbalance-dropin.conf",
    "rootfs/cpupower.env",
    "rootfs/cpupower-dropin.conf",
    "rootfs/sysctl.conf",
    "rootfs/udev.rules",
    "rootfs/irq-priority.sh",
    "rootfs/irq-priority.service",
    "rootfs/irq-priority@.service",
    "rootfs/kargs.toml",
    "rootfs/pipewire.conf",
    "rootfs/wireplumber.conf",
    "rootfs/modprobe.conf",
    "rootfs/jackdrc",
    "rootfs/kernel-rt.repo",
    "rootfs/package.repo",
    "kickstart/macros.ks",
    "kickstart/install.ks",
    "kickstart/live.ks",
    "rpm/rtaudio-tuning.spec",
    "blueprint/blueprint.toml",
    "blueprint/selinux-modules.service",
    "bootc/Containerfile",
    "bootc/config.toml",
    "fleet/image-mode.sh",
    "fleet/boot.ipxe",
    "fleet/grub.cfg",
    "fleet/pxelinux.cfg",
];

/// The engine, built once per process.
pub fn engine() -> &'static Tera {
    static ENGINE: std::sync::LazyLock<Tera> = std::sync::LazyLock::new(build);
    &ENGINE
}

fn build() -> Tera {
    let mut tera = Tera::default();
    tera.autoescape_on(Vec::new());
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .expect("embedded templates parse (tested)");
    tera.register_filter("toml", toml_filter);
    tera.register_filter("sq", sq_filter);
    tera.register_filter("rpm_path", rpm_path_filter);
    tera
}

/// A value as a TOML literal: strings quoted and escaped, arrays inline.
fn toml_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    fn conv(v: &Value) -> tera::Result<toml::Value> {
        Ok(match v {
            Value::String(s) => toml::Value::String(s.clone()),
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => toml::Value::Integer(i),
                None => return Err(tera::Error::msg(format!("toml: unsupported number {n}"))),
            },
            Value::Array(a) => toml::Value::Array(a.iter().map(conv).collect::<tera::Result<_>>()?),
            other => return Err(tera::Error::msg(format!("toml: unsupported value {other}"))),
        })
    }
    Ok(Value::String(conv(v)?.to_string()))
}

/// POSIX shell single quoting: `it's` -> `'it'\''s'`.
fn sq_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = v
        .as_str()
        .ok_or_else(|| tera::Error::msg("sq: expected a string"))?;
    Ok(Value::String(format!("'{}'", s.replace('\'', r"'\''"))))
}

/// Path prefixes and the spec macros that name them. Fedora's
/// systemd-rpm-macros define the first four; the spec defines them itself when
/// the build host does not. rpmlint's hardcoded-library-path is meant for
/// library directories and fires on a literal `/usr/lib` or `%{_prefix}/lib`.
const RPM_DIRS: &[(&str, &str)] = &[
    ("/usr/lib/systemd/system/", "%{_unitdir}/"),
    ("/usr/lib/sysusers.d/", "%{_sysusersdir}/"),
    ("/usr/lib/sysctl.d/", "%{_sysctldir}/"),
    ("/usr/lib/udev/rules.d/", "%{_udevrulesdir}/"),
    ("/usr/", "%{_exec_prefix}/"),
    ("/etc/", "%{_sysconfdir}/"),
];

/// An absolute path in a spec file, written with path macros.
fn rpm_path_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = v
        .as_str()
        .ok_or_else(|| tera::Error::msg("rpm_path: expected a string"))?;
    let with_slash = format!("{s}/");
    let out = RPM_DIRS
        .iter()
        .find_map(|(dir, mac)| {
            with_slash
                .strip_prefix(dir)
                .map(|rest| format!("{mac}{rest}").trim_end_matches('/').to_string())
        })
        .unwrap_or_else(|| s.to_string());
    Ok(Value::String(out))
}
