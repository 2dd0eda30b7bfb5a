//! The osbuild blueprint (`blueprint/*.toml`), read the way image-builder reads
//! it: a typed schema modelled on osbuild/blueprint pkg/blueprint, where an
//! unknown key is an error; the custom file and directory path policies of
//! osbuild/images (pkg/customizations/fsnode, `CustomFilesPolicies` and
//! `CustomDirectoriesPolicies`); and every enabled service provided by a listed
//! package or file (osbuild's systemd stage fails on a unit that does not exist).

use serde::Deserialize;

use super::{Outcome, Tree};

// The schema. Fields that no check reads are still typed: serde then rejects a
// value of the wrong type, as osbuild does. Tables we do not look inside are
// `toml::Value`, which accepts any value but still names the key.

/// osbuild/blueprint `Blueprint`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct Blueprint {
    name: String,
    description: Option<String>,
    version: Option<String>,
    distro: Option<String>,
    architecture: Option<String>,
    minimal: Option<bool>,
    #[serde(default)]
    packages: Vec<Package>,
    #[serde(default)]
    modules: Vec<Package>,
    #[serde(default)]
    groups: Vec<PackageGroup>,
    enabled_modules: Option<toml::Value>,
    containers: Option<toml::Value>,
    #[serde(default)]
    customizations: Customizations,
}

/// `[[packages]]` and `[[modules]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct Package {
    name: String,
    version: Option<String>,
}

/// `[[groups]]`: a comps group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct PackageGroup {
    name: String,
}

/// osbuild/blueprint `Customizations`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct Customizations {
    hostname: Option<String>,
    kernel: Option<Kernel>,
    sshkey: Option<Vec<SshKey>>,
    user: Option<Vec<User>>,
    group: Option<Vec<Group>>,
    timezone: Option<toml::Value>,
    locale: Option<toml::Value>,
    firewall: Option<toml::Value>,
    services: Option<Services>,
    filesystem: Option<toml::Value>,
    disk: Option<toml::Value>,
    installation_device: Option<String>,
    partitioning_mode: Option<String>,
    fdo: Option<toml::Value>,
    openscap: Option<toml::Value>,
    ignition: Option<toml::Value>,
    #[serde(default)]
    directories: Vec<Directory>,
    #[serde(default)]
    files: Vec<File>,
    repositories: Option<toml::Value>,
    fips: Option<bool>,
    installer: Option<toml::Value>,
    rpm: Option<toml::Value>,
    rhsm: Option<toml::Value>,
    cacerts: Option<toml::Value>,
    #[serde(rename = "containers-storage")]
    containers_storage: Option<toml::Value>,
    firstboot: Option<toml::Value>,
    dnf: Option<toml::Value>,
    iso: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Kernel {
    name: Option<String>,
    append: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct SshKey {
    user: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct User {
    name: String,
    description: Option<String>,
    password: Option<String>,
    key: Option<String>,
    home: Option<String>,
    shell: Option<String>,
    groups: Option<Vec<String>>,
    uid: Option<i64>,
    gid: Option<i64>,
    expiredate: Option<i64>,
    force_password_reset: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct Group {
    name: String,
    gid: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct Services {
    #[serde(default)]
    enabled: Vec<String>,
    disabled: Option<Vec<String>>,
    masked: Option<Vec<String>>,
}

/// The owner of a file or directory: a name or a numeric id (fsnode accepts
/// both; a TOML float or table is an error there too).
#[derive(Deserialize)]
#[serde(untagged, expecting = "a user or group name (string) or id (integer)")]
enum Owner {
    Name(String),
    Id(i64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct Directory {
    path: String,
    user: Option<Owner>,
    group: Option<Owner>,
    /// A string: osbuild's UnmarshalTOML rejects a TOML integer ("mode must be
    /// a string").
    mode: Option<String>,
    ensure_parents: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "fields are declared so that the schema accepts them"
)]
struct File {
    path: String,
    user: Option<Owner>,
    group: Option<Owner>,
    mode: Option<String>,
    data: Option<String>,
    uri: Option<String>,
}

/// osbuild/images pkg/pathpolicy `CustomFilesPolicies`: the longest matching
/// prefix decides (`true` = denied). Directories use the same map without the
/// /etc entries (`CustomDirectoriesPolicies`).
const PATH_POLICY: &[(&str, bool)] = &[
    ("/", false),
    ("/bin", true),
    ("/boot", true),
    ("/dev", true),
    ("/efi", true),
    ("/etc/fstab", true),
    ("/etc/group", true),
    ("/etc/passwd", true),
    ("/etc/shadow", true),
    ("/lib", true),
    ("/lib64", true),
    ("/lost+found", true),
    ("/proc", true),
    ("/run", true),
    ("/sbin", true),
    ("/sys", true),
    ("/sysroot", true),
    ("/tmp", true),
    ("/usr", true),
    ("/usr/local", false),
    ("/var/run", true),
    ("/var/tmp", true),
];

/// Directories every Fedora/EL image has (from systemd, pam, udev, kmod and
/// the distribution's -repos package), so a file may go straight into them; any
/// other parent must come from a `[[customizations.directories]]` entry.
const STANDARD_DIRS: &[&str] = &[
    "/etc",
    "/etc/systemd/system",
    "/etc/sysctl.d",
    "/etc/udev/rules.d",
    "/etc/security/limits.d",
    "/etc/sysusers.d",
    "/etc/yum.repos.d",
    // The distribution's -gpg-keys package (fedora-gpg-keys,
    // centos-gpg-keys): the keys its .repo files name.
    "/etc/pki/rpm-gpg",
    // kmod's.
    "/etc/modprobe.d",
    "/usr/local/bin",
    "/usr/local/sbin",
];

/// The packages that provide the units the renderer enables or masks.
const UNIT_PACKAGES: &[(&str, &str)] = &[
    ("irqbalance.service", "irqbalance"),
    ("cpupower.service", "kernel-tools"),
    ("tuned.service", "tuned"),
    ("tuned-ppd.service", "tuned-ppd"),
    ("power-profiles-daemon.service", "power-profiles-daemon"),
    ("sshd.service", "openssh-server"),
];

const UNIT_SUFFIXES: &[&str] = &[
    ".service",
    ".socket",
    ".timer",
    ".path",
    ".target",
    ".mount",
    ".automount",
    ".swap",
    ".slice",
];

pub fn validate(tree: &Tree) -> Outcome {
    let blueprints: Vec<(&str, &[u8])> = tree
        .under("blueprint/")
        .filter(|(rel, _)| rel.ends_with(".toml") && !rel["blueprint/".len()..].contains('/'))
        .collect();
    if blueprints.is_empty() {
        return Outcome::fail("no blueprint/*.toml in the tree", Vec::new());
    }
    let mut summaries = Vec::new();
    let mut problems = Vec::new();
    for (rel, bytes) in blueprints {
        let Ok(text) = std::str::from_utf8(bytes) else {
            problems.push(format!("{rel}: not UTF-8"));
            continue;
        };
        match check(rel, text) {
            Ok(summary) => summaries.push(format!("{rel}: {summary}")),
            Err(found) => problems.extend(found),
        }
    }
    let failed = format!(
        "{} problem{} in the blueprint",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Outcome::from_problems(summaries.join("; "), failed, problems)
}

/// One blueprint: a summary, or every problem found (prefixed with `rel`).
/// What a first-boot unit installing SELinux modules must come before.
const FIRST_BOOT_BEFORE: &[&str] = &["systemd-user-sessions.service", "rtkit-daemon.service"];

fn check(rel: &str, text: &str) -> Result<String, Vec<String>> {
    let bp: Blueprint = toml::from_str(text).map_err(|e| vec![toml_error(rel, text, &e)])?;
    let c = &bp.customizations;
    let mut problems = Vec::new();
    let mut problem = |key: &str, msg: String| problems.push(format!("{rel}: {key}: {msg}"));

    if bp.name.trim().is_empty() {
        problem(
            "name",
            "must not be empty (osbuild: \"empty blueprint name not allowed\")".into(),
        );
    }
    // osbuild/blueprint Initialize: "Invalid 'version', must use Semantic Versioning".
    if let Some(v) = &bp.version
        && !is_semver(v)
    {
        problem(
            "version",
            format!("{v:?} is not a semantic version (MAJOR.MINOR.PATCH)"),
        );
    }
    if let Some(append) = c.kernel.as_ref().and_then(|k| k.append.as_deref()) {
        // The arguments go verbatim into the bootloader entry; a quote or a newline
        // there breaks the command line of every boot.
        if append.contains(['\n', '\r']) {
            problem("customizations.kernel.append", "contains a newline".into());
        }
        for token in append
            .split_whitespace()
            .filter(|t| t.contains(['"', '\'']))
        {
            problem(
                "customizations.kernel.append",
                format!("argument {token:?} contains a quote"),
            );
        }
    }
    if let Some(name) = c.kernel.as_ref().and_then(|k| k.name.as_deref())
        && name.trim().is_empty()
    {
        problem("customizations.kernel.name", "must not be empty".into());
    }

    // A first-boot unit that installs SELinux modules unblocks the audio
    // stack: it must be done before the musician's session (PipeWire,
    // WirePlumber and JACK run there, after systemd-user-sessions.service)
    // and rtkit-daemon, which grants them realtime, start; otherwise the
    // first boot runs them under the policy the modules were to widen.
    for (i, f) in c.files.iter().enumerate() {
        let Some(data) = f.data.as_deref() else {
            continue;
        };
        let installs_modules = f.path.ends_with(".service")
            && data.lines().any(|l| {
                l.trim_start().starts_with("ExecStart=")
                    && l.contains("semodule")
                    && l.split_whitespace().any(|w| w == "-i")
            });
        if !installs_modules {
            continue;
        }
        // Before= counts in the [Unit] section only (systemd.unit(5)).
        let mut section = "";
        let before: Vec<&str> = data
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                if l.starts_with('[') {
                    section = l;
                }
                l.strip_prefix("Before=").filter(|_| section == "[Unit]")
            })
            .flat_map(str::split_whitespace)
            .collect();
        for needed in FIRST_BOOT_BEFORE {
            if !before.contains(needed) {
                problem(
                    &format!("customizations.files[{i}]"),
                    format!(
                        "{} installs SELinux modules at the first boot but is not ordered Before={needed}: the audio it unblocks would start first",
                        f.path
                    ),
                );
            }
        }
    }

    let dirs: Vec<&str> = c.directories.iter().map(|d| d.path.as_str()).collect();
    for (i, d) in c.directories.iter().enumerate() {
        let key = format!("customizations.directories[{i}]");
        if let Err(msg) = check_path(&d.path, false) {
            problem(&format!("{key}.path"), msg);
        }
        check_node(&key, d.mode.as_deref(), &d.user, &d.group, &mut problem);
        // osbuild/images pkg/osbuild/fsnode.go: a directory with a mode, user
        // or group is made without exist_ok, after the packages are
        // installed, so one a package already has fails the build. Only our
        // own folders may carry them.
        if !d.path.contains(crate::render::TOOL)
            && (d.mode.is_some() || d.user.is_some() || d.group.is_some())
        {
            problem(
                &key,
                format!(
                    "{} is not ours but sets a mode, user or group: osbuild then creates it without exist_ok, and the build fails where a package already has it; leave the three out",
                    d.path
                ),
            );
        }
    }
    for (i, f) in c.files.iter().enumerate() {
        let key = format!("customizations.files[{i}]");
        match check_path(&f.path, true) {
            Err(msg) => problem(&format!("{key}.path"), msg),
            Ok(()) => {
                let parent = parent_dir(&f.path);
                if !STANDARD_DIRS.contains(&parent) && !dirs.contains(&parent) {
                    problem(
                        &format!("{key}.path"),
                        format!(
                            "its folder {parent} is not a standard one and no [[customizations.directories]] entry creates it"
                        ),
                    );
                }
            }
        }
        check_node(&key, f.mode.as_deref(), &f.user, &f.group, &mut problem);
    }

    let packages: Vec<&str> = bp
        .packages
        .iter()
        .chain(&bp.modules)
        .map(|p| p.name.as_str())
        .collect();
    let enabled = c.services.as_ref().map_or(&[][..], |s| &s.enabled);
    for (i, unit) in enabled.iter().enumerate() {
        if let Err(msg) = check_unit(unit, &packages, &c.files) {
            problem(&format!("customizations.services.enabled[{i}]"), msg);
        }
    }

    if problems.is_empty() {
        Ok(format!(
            "schema, {} files, {} services",
            c.files.len(),
            enabled.len()
        ))
    } else {
        Err(problems)
    }
}

/// A serde/TOML error with the file's line; for an unknown key, the nearest
/// known one when it is a likely typo.
pub(super) fn toml_error(rel: &str, text: &str, err: &toml::de::Error) -> String {
    let line = err
        .span()
        .map_or(0, |s| text[..s.start].matches('\n').count() + 1);
    let mut msg = err.message().trim().to_string();
    // serde's wording: "unknown field `x`, expected one of `a`, `b`".
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let quoted: Vec<&str> = rest.split('`').step_by(2).collect();
        if let Some((unknown, known)) = quoted.split_first() {
            let nearest = known
                .iter()
                .map(|k| (strsim::normalized_damerau_levenshtein(unknown, k), *k))
                .filter(|(score, _)| *score >= 0.6)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, k)) = nearest {
                msg.push_str(&format!(" (did you mean `{k}`?)"));
            }
        }
    }
    format!("{rel}:{line}: {msg}")
}

/// go-semver's `NewVersion`: MAJOR.MINOR.PATCH, then optional -PRERELEASE and
/// +BUILD.
fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// fsnode's path rules (absolute, as `filepath.Clean` leaves it, no trailing
/// slash), then the path policy: the longest prefix, by whole components, decides.
fn check_path(path: &str, is_file: bool) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("{path:?} is not absolute"));
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(format!("{path:?} must not end with a slash"));
    }
    if rest
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!("{path:?} is not clean (no //, /./ or ..)"));
    }
    let (prefix, denied) = PATH_POLICY
        .iter()
        .filter(|(p, _)| is_file || !p.starts_with("/etc/"))
        .filter(|(p, _)| *p == "/" || path == *p || path.starts_with(&format!("{p}/")))
        .max_by_key(|(p, _)| p.len())
        .copied()
        .unwrap_or(("/", false));
    if denied {
        return Err(format!(
            "{path} is not allowed by image-builder's path policy ({prefix})"
        ));
    }
    Ok(())
}

/// The mode, user and group of a file or directory, by fsnode's rules.
fn check_node(
    key: &str,
    mode: Option<&str>,
    user: &Option<Owner>,
    group: &Option<Owner>,
    problem: &mut impl FnMut(&str, String),
) {
    // osbuild/blueprint validateModeString: `^[0]{0,1}[0-7]{3}$`.
    if let Some(mode) = mode {
        let digits = mode
            .strip_prefix('0')
            .filter(|m| m.len() == 3)
            .unwrap_or(mode);
        if digits.len() != 3 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            problem(
                &format!("{key}.mode"),
                format!("{mode:?} is not an octal mode like \"0644\""),
            );
        }
    }
    // fsnode: user names `^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$`, group names
    // without the dot; ids non-negative.
    for (field, owner, dot) in [("user", user, true), ("group", group, false)] {
        let ok = match owner {
            None => true,
            Some(Owner::Id(id)) => *id >= 0,
            Some(Owner::Name(name)) => {
                let ok_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (dot && b == b'.');
                (1..=32).contains(&name.len())
                    && name.bytes().next().is_some_and(ok_char)
                    && name.bytes().all(|b| ok_char(b) || b == b'-')
            }
        };
        if !ok {
            problem(
                &format!("{key}.{field}"),
                format!("not a valid {field} name or id"),
            );
        }
    }
}

/// The folder a file goes into.
fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// An enabled unit must exist in the image: shipped by a listed package, or
/// written by a `[[customizations.files]]` entry.
fn check_unit(unit: &str, packages: &[&str], files: &[File]) -> Result<(), String> {
    let unit = if UNIT_SUFFIXES.iter().any(|s| unit.ends_with(s)) {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    // An instance (`name@x.service`) comes from its template (`name@.service`).
    let template = match (unit.split_once('@'), unit.rfind('.')) {
        (Some((base, _)), Some(dot)) => format!("{base}@{}", &unit[dot..]),
        _ => unit.clone(),
    };
    let written = files.iter().any(|f| {
        f.path
            .strip_prefix("/etc/systemd/system/")
            .is_some_and(|name| name == unit || name == template)
    });
    if written {
        return Ok(());
    }
    match UNIT_PACKAGES.iter().find(|(u, _)| *u == unit) {
        Some((_, package)) if packages.contains(package) => Ok(()),
        Some((_, package)) => Err(format!(
            "{unit} comes from package {package}, which the blueprint does not list"
        )),
        None => Err(format!(
            "no listed package provides {unit}, and no [[customizations.files]] entry writes /etc/systemd/system/{unit}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::validate::Status;

    /// The shape of a rendered blueprint (examples/isolated.toml), shortened.
    const RENDERED: &str = r#"
name = "mixer"
description = "Realtime audio workstation (rtaudio-tuning profile mixer)"
version = "0.1.0"
distro = "fedora-44"

[[packages]]
name = "irqbalance"
version = "*"

[[packages]]
name = "kernel-tools"
version = "*"

[customizations.kernel]
name = "kernel-rt"
append = "intel_pstate=disable threadirqs isolcpus=managed_irq,domain,2-3"

[[customizations.group]]
name = "audio-rt"
gid = 1071

[[customizations.user]]
name = "mixer"
groups = ["audio", "audio-rt"]
key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMxv3nU0bWl4ZXJrZXlmb3JzdHVkaW9leGFtcGxl mixer@studio"

[customizations.services]
enabled = ["irqbalance.service", "cpupower.service", "rtaudio-irq-priority.service"]
masked = ["tuned.service", "tuned-ppd.service", "power-profiles-daemon.service"]

[[customizations.directories]]
path = "/etc/rtaudio-tuning"
mode = "0755"
user = "root"
group = "root"
ensure_parents = true

[[customizations.files]]
path = "/etc/security/limits.d/rtaudio-tuning.conf"
mode = "0644"
user = "root"
group = "root"
data = """
@audio-rt\t-\trtprio\t98
"""

[[customizations.files]]
path = "/etc/rtaudio-tuning/irqbalance.env"
mode = "0644"
user = "root"
group = "root"
data = """
IRQBALANCE_BANNED_CPULIST=1-3
"""

[[customizations.files]]
path = "/etc/yum.repos.d/rtaudio-tuning-kernel-rt.repo"
mode = "0644"
user = "root"
group = "root"
data = """
[rtaudio-tuning-kernel-rt]
baseurl=https://mirror.studio.example/kernel-rt/fedora-$releasever-$basearch/
"""

[[customizations.files]]
path = "/etc/systemd/system/rtaudio-irq-priority.service"
mode = "0644"
user = "root"
group = "root"
data = """
[Service]
Type=oneshot
ExecStart=/bin/sh /etc/rtaudio-tuning/irq-priority.sh
"""
"#;

    fn run(text: &str) -> Outcome {
        let files =
            BTreeMap::from([("blueprint/mixer.toml".to_string(), text.as_bytes().to_vec())]);
        validate(&Tree::from_files(Path::new("/t"), files))
    }

    fn fails_with(text: &str, needle: &str) {
        let out = run(text);
        assert_eq!(out.status, Status::Fail, "{out:?}");
        assert!(
            out.details.iter().any(|d| d.contains(needle)),
            "no {needle:?} in {out:?}"
        );
    }

    #[test]
    fn rendered_blueprint_passes() {
        let out = run(RENDERED);
        assert_eq!(out.status, Status::Pass, "{out:?}");
        assert_eq!(
            out.summary,
            "blueprint/mixer.toml: schema, 4 files, 3 services"
        );
    }

    #[test]
    fn no_blueprint_fails() {
        let out = validate(&Tree::from_files(Path::new("/t"), BTreeMap::new()));
        assert_eq!(out.status, Status::Fail);
    }

    #[test]
    fn unknown_keys_fail_with_their_name_and_line() {
        fails_with(
            &format!("Bogus = 1\n{RENDERED}"),
            "blueprint/mixer.toml:1: unknown field `Bogus`",
        );
        let typo = RENDERED.replace(
            "[customizations.services]\nenabled",
            "[customizations.services]\nenable",
        );
        fails_with(&typo, "did you mean `enabled`?");
        let in_file = RENDERED.replace("mode = \"0644\"", "mode = \"0644\"\nowner = \"root\"");
        fails_with(&in_file, "unknown field `owner`");
    }

    #[test]
    fn wrong_types_fail() {
        // osbuild: "UnmarshalTOML: mode must be a string".
        fails_with(
            &RENDERED.replace("mode = \"0755\"", "mode = 0o755"),
            "expected a string",
        );
        fails_with(
            &RENDERED.replace("user = \"root\"", "user = 1.5"),
            "a user or group name",
        );
        fails_with(
            &RENDERED.replace("gid = 1071", "gid = \"1071\""),
            "expected i64",
        );
    }

    #[test]
    fn folders_a_package_may_have_are_made_with_exist_ok() {
        let entry = |extra: &str| {
            RENDERED.replacen(
                "[[customizations.directories]]\n",
                &format!("[[customizations.directories]]\npath = \"/etc/pipewire/pipewire.conf.d\"\n{extra}ensure_parents = true\n\n[[customizations.directories]]\n"),
                1,
            )
        };
        assert_eq!(
            run(&entry("")).status,
            Status::Pass,
            "{:?}",
            run(&entry(""))
        );
        fails_with(
            &entry("mode = \"0755\"\n"),
            "/etc/pipewire/pipewire.conf.d is not ours but sets a mode, user or group",
        );
    }

    #[test]
    fn integer_owners_pass_and_bad_modes_and_names_fail() {
        let ids = RENDERED
            .replace("user = \"root\"", "user = 0")
            .replace("group = \"root\"", "group = 0");
        assert_eq!(run(&ids).status, Status::Pass);
        fails_with(
            &RENDERED
                .replace("\"0644\"", "\"644\"")
                .replace("\"0755\"", "\"0855\""),
            "directories[0].mode",
        );
        fails_with(
            &RENDERED.replace("\"0755\"", "\"00755\""),
            "not an octal mode",
        );
        fails_with(
            &RENDERED.replace("group = \"root\"", "group = \"wheel.x\""),
            ".group: not a valid group name",
        );
        fails_with(
            &RENDERED.replace("user = \"root\"", "user = -1"),
            ".user: not a valid user name or id",
        );
    }

    #[test]
    fn path_policy_is_enforced() {
        let usr = RENDERED.replace(
            "/etc/security/limits.d/rtaudio-tuning.conf",
            "/usr/lib/sysctl.d/x.conf",
        );
        fails_with(
            &usr,
            "customizations.files[0].path: /usr/lib/sysctl.d/x.conf is not allowed by image-builder's path policy (/usr)",
        );
        fails_with(
            &RENDERED.replace("/etc/rtaudio-tuning/irqbalance.env", "/etc/passwd"),
            "(/etc/passwd)",
        );
        fails_with(
            &RENDERED.replace("path = \"/etc/rtaudio-tuning\"", "path = \"/run/x\""),
            "directories[0].path",
        );
        fails_with(
            &RENDERED.replace("/etc/rtaudio-tuning/irqbalance.env", "etc/x"),
            "is not absolute",
        );
        fails_with(
            &RENDERED.replace("/etc/rtaudio-tuning/irqbalance.env", "/etc//x"),
            "is not clean",
        );
        fails_with(
            &RENDERED.replace("/etc/rtaudio-tuning/irqbalance.env", "/etc/../x"),
            "is not clean",
        );
        fails_with(
            &RENDERED.replace("path = \"/etc/rtaudio-tuning\"", "path = \"/etc/x/\""),
            "end with a slash",
        );
    }

    #[test]
    fn policy_matches_whole_components() {
        assert!(check_path("/usrx/a", true).is_ok());
        assert!(check_path("/usr/local/bin/a", true).is_ok());
        assert!(check_path("/usr/localx/a", true).is_err());
        assert!(check_path("/var/run", false).is_err());
        assert!(check_path("/etc/passwd.d", false).is_ok());
        // The /etc entries apply to files only.
        assert!(check_path("/etc/passwd", false).is_ok());
        assert!(check_path("/etc/passwd", true).is_err());
    }

    #[test]
    fn a_file_needs_its_folder() {
        let moved = RENDERED.replace("path = \"/etc/rtaudio-tuning\"", "path = \"/etc/other\"");
        fails_with(
            &moved,
            "customizations.files[1].path: its folder /etc/rtaudio-tuning is not a standard one",
        );
    }

    #[test]
    fn the_first_boot_selinux_unit_comes_before_the_audio_it_unblocks() {
        let unit = "[Service]\nType=oneshot\nExecStart=/bin/sh /etc/rtaudio-tuning/irq-priority.sh";
        let installs = "[Service]\nType=oneshot\nExecStart=/usr/sbin/semodule -X 200 -i /etc/rtaudio-tuning/selinux/x.cil";
        let unordered = RENDERED.replace(unit, installs);
        fails_with(
            &unordered,
            "installs SELinux modules at the first boot but is not ordered Before=systemd-user-sessions.service",
        );
        fails_with(&unordered, "Before=rtkit-daemon.service");
        // In [Service], Before= is no ordering at all.
        let misplaced = RENDERED.replace(
            unit,
            &format!("{installs}\nBefore=systemd-user-sessions.service rtkit-daemon.service"),
        );
        fails_with(&misplaced, "Before=rtkit-daemon.service");
        let ordered = RENDERED.replace(
            unit,
            &format!(
                "[Unit]\nBefore=systemd-user-sessions.service rtkit-daemon.service\n{installs}"
            ),
        );
        assert_eq!(run(&ordered).status, Status::Pass);
    }

    #[test]
    fn enabled_units_need_a_provider() {
        fails_with(
            &RENDERED.replace(
                "\"cpupower.service\", ",
                "\"cpupower.service\", \"chronyd\", ",
            ),
            "enabled[2]: no listed package provides chronyd.service",
        );
        let no_tools = RENDERED.replace("name = \"kernel-tools\"", "name = \"tuned\"");
        fails_with(
            &no_tools,
            "cpupower.service comes from package kernel-tools",
        );
        // Without the .service suffix, and through a file we write.
        let short = RENDERED.replace(
            "\"rtaudio-irq-priority.service\"]",
            "\"rtaudio-irq-priority\", \"sshd\"]",
        );
        fails_with(
            &short,
            "enabled[3]: sshd.service comes from package openssh-server",
        );
        let with_ssh = short.replace(
            "name = \"kernel-tools\"",
            "name = \"kernel-tools\"\n[[packages]]\nname = \"openssh-server\"",
        );
        assert_eq!(run(&with_ssh).status, Status::Pass);
    }

    #[test]
    fn template_units_come_from_their_template_file() {
        let tpl = RENDERED
            .replace(
                "rtaudio-irq-priority.service\"\n",
                "rtaudio-irq-priority@.service\"\n",
            )
            .replace(
                "\"rtaudio-irq-priority.service\"]",
                "\"rtaudio-irq-priority@hw0.service\"]",
            );
        assert_eq!(run(&tpl).status, Status::Pass, "{:?}", run(&tpl));
    }

    #[test]
    fn name_version_and_kernel_arguments() {
        fails_with(
            &RENDERED.replace("name = \"mixer\"", "name = \"\""),
            "name: must not be empty",
        );
        fails_with(
            &RENDERED.replace("version = \"0.1.0\"", "version = \"0.1\""),
            "not a semantic version",
        );
        assert!(is_semver("1.2.3-rc.1+build5"));
        fails_with(
            &RENDERED.replace("threadirqs", "quiet=\\\"x\\\""),
            "contains a quote",
        );
        fails_with(
            &RENDERED.replace("threadirqs", "a\\nb"),
            "contains a newline",
        );
    }
}
