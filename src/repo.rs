//! `rpm --repo DIR`: the package in a dnf repository for the studio's
//! machines. The repository keeps the new release and the one before it (dnf
//! can go back to it), signs the package and its metadata with the profile's
//! key, and carries a `.repo` file and the public key for clients.
//!
//! dnf takes an upgrade only from a higher version or release: a package of
//! the same name, version and release with other content is "Nothing to do"
//! on every machine that has it. So a build whose content changed but whose
//! release did not is refused, unless `--bump-release` raises it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use serde::Serialize;

use crate::artifact::{Artifact, Content};
use crate::render::TOOL;
use crate::{ToolMissing, UserError, cmd, rpmbuild};

/// The client's `.repo` file and the public key, at the repository's top.
pub const REPO_FILE: &str = "rtaudio-tuning.repo";
pub const KEY_FILE: &str = "RPM-GPG-KEY-rtaudio-tuning";
/// Where a rendered tree carries them (the drop-ins).
const TREE_REPO_FILE: &str = "rootfs/etc/yum.repos.d/rtaudio-tuning.repo";
const TREE_KEY_FILE: &str = "rootfs/etc/pki/rpm-gpg/RPM-GPG-KEY-rtaudio-tuning";
/// The folder of the packages inside the repository.
pub const PACKAGES: &str = "packages";
/// How many releases the repository keeps: the new one and the one before.
const KEEP: usize = 2;

/// One package in the repository, as its header says.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Package {
    pub file: String,
    pub version: String,
    pub release: String,
    /// What dnf installs from it, hashed: its files (paths, digests, modes,
    /// owners, flags), its dependencies and its scriptlets. The same for two
    /// builds of the same content, signed or not, whatever rpmbuild made
    /// them (its own rpmlib() requirements and compression are left out).
    #[serde(skip)]
    pub content: String,
}

impl Package {
    pub fn evr(&self) -> String {
        format!("{}-{}", self.version, self.release)
    }
}

/// What `rpm --repo` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Published {
    pub repo: String,
    /// The package built, as the repository now holds it (under packages/).
    pub package: String,
    /// The package was already there with the same content: nothing written.
    pub unchanged: bool,
    /// The release the package was built with (raised by --bump-release).
    pub release: String,
    pub bumped: bool,
    pub kept: Vec<String>,
    pub pruned: Vec<String>,
    /// The fingerprint of the key that signed the package and repomd.xml.
    pub signed_by: Option<String>,
    /// The `.repo` file for clients, when the profile names `[rpm] repo_url`.
    pub repo_file: Option<String>,
}

/// The tools the repository needs, found or named.
struct Tools {
    rpm: PathBuf,
    createrepo: PathBuf,
}

fn tools() -> anyhow::Result<Tools> {
    let rpm = cmd::find("rpm").ok_or_else(|| {
        ToolMissing("install rpm: apt-get install rpm, or dnf install rpm".into())
    })?;
    let createrepo = cmd::find("createrepo_c").ok_or_else(|| {
        ToolMissing(
            "install createrepo_c: apt-get install createrepo-c, or dnf install createrepo_c"
                .into(),
        )
    })?;
    Ok(Tools { rpm, createrepo })
}

/// The header fields of a package file that say what it installs, read
/// without checking its signature: name, version, release, then its content.
const QUERY: &str = "%{NAME}\t%{VERSION}\t%{RELEASE}\n\
[F %{FILENAMES}\t%{FILEDIGESTS}\t%{FILEMODES}\t%{FILEFLAGS}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\t%{FILELINKTOS}\n]\
[R %{REQUIRENAME}\t%{REQUIREFLAGS}\t%{REQUIREVERSION}\n]\
[P %{PROVIDENAME}\t%{PROVIDEFLAGS}\t%{PROVIDEVERSION}\n]\
[C %{CONFLICTNAME}\t%{CONFLICTVERSION}\n]\
[W %{RECOMMENDNAME}\n]\
S %{PREINPROG} %{PREIN}\nS %{POSTINPROG} %{POSTIN}\nS %{PREUNPROG} %{PREUN}\n\
S %{POSTUNPROG} %{POSTUN}\nS %{PRETRANSPROG} %{PRETRANS}\nS %{POSTTRANSPROG} %{POSTTRANS}\n\
D %{SUMMARY}\n%{DESCRIPTION}\n";

/// A package file's name, version, release and content digest.
fn query(rpm: &Path, file: &Path) -> anyhow::Result<(String, Package)> {
    let o = cmd::run_checked(
        Command::new(rpm)
            .args(["-qp", "--nosignature", "--nodigest", "--qf", QUERY])
            .arg(file),
    )?;
    let (first, rest) = o.stdout.split_once('\n').unwrap_or((&o.stdout, ""));
    let f: Vec<&str> = first.split('\t').collect();
    let [name, version, release] = f[..] else {
        anyhow::bail!("{}: not a package rpm can read: {first}", file.display());
    };
    // rpmbuild's own requirements (rpmlib(...)) name its features, not
    // what the package needs from the machine.
    let content: String = rest
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("R rpmlib("))
        .collect();
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        name.to_string(),
        Package {
            file: file_name,
            version: version.to_string(),
            release: release.to_string(),
            content: crate::artifact::sha256_hex(content.as_bytes()),
        },
    ))
}

/// rpm's own version comparison (rpmvercmp, through rpm's Lua): -1, 0, 1.
/// Versions and releases are checked against rpm's characters first, so
/// nothing else reaches the Lua string.
fn vercmp(rpm: &Path, a: &str, b: &str) -> anyhow::Result<std::cmp::Ordering> {
    let ok = |v: &str| {
        !v.is_empty()
            && v.len() <= 256
            && v.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~' | '^' | '-')
            })
    };
    anyhow::ensure!(
        ok(a) && ok(b),
        "a version rpm would not write: {a:?} or {b:?}"
    );
    let o = cmd::run_checked(
        Command::new(rpm)
            .arg("--eval")
            .arg(format!("%{{lua: print(rpm.vercmp(\"{a}\", \"{b}\"))}}")),
    )?;
    match o.stdout.trim() {
        "-1" => Ok(std::cmp::Ordering::Less),
        "0" => Ok(std::cmp::Ordering::Equal),
        "1" => Ok(std::cmp::Ordering::Greater),
        other => anyhow::bail!("rpm --eval rpm.vercmp answered {other:?}"),
    }
}

/// The packages of ours already in the repository, newest first.
fn existing(t: &Tools, repo: &Path) -> anyhow::Result<Vec<Package>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(repo.join(PACKAGES)) else {
        return Ok(found);
    };
    for e in entries {
        let e = e?;
        let path = e.path();
        let is_rpm = path.extension().is_some_and(|x| x == "rpm");
        if !is_rpm || !e.file_type()?.is_file() {
            continue;
        }
        let (name, p) = query(&t.rpm, &path)?;
        if name != TOOL {
            return Err(UserError(format!(
                "{}/{PACKAGES} holds {}, a package of another name ({name}): give rpm --repo a folder of its own",
                repo.display(),
                p.file
            ))
            .into());
        }
        found.push(p);
    }
    sort_newest_first(t, &mut found)?;
    Ok(found)
}

fn sort_newest_first(t: &Tools, list: &mut [Package]) -> anyhow::Result<()> {
    // Insertion sort: a repository holds a handful of releases.
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 && vercmp(&t.rpm, &list[j].evr(), &list[j - 1].evr())?.is_gt() {
            list.swap(j, j - 1);
            j -= 1;
        }
    }
    Ok(())
}

/// The spec's `Release:` as (number, the rest), e.g. (2, ".studio").
fn spec_release(spec: &str) -> Option<(u32, String)> {
    let line = spec.lines().find(|l| l.starts_with("Release:"))?;
    release_parts(line["Release:".len()..].trim())
}

/// A release as (number, the rest): "2.studio" is (2, ".studio"); the rest
/// names the profile.
fn release_parts(release: &str) -> Option<(u32, String)> {
    let digits: String = release.chars().take_while(char::is_ascii_digit).collect();
    Some((digits.parse().ok()?, release[digits.len()..].to_string()))
}

/// The spec with its `Release:` line, and the `%changelog` entry naming
/// it, set to `release`: the package is then the one a profile with that
/// release renders, byte for byte.
fn with_release(spec: &str, release: &str) -> String {
    let old = spec
        .lines()
        .find_map(|l| l.strip_prefix("Release:"))
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let mut out = String::with_capacity(spec.len());
    let mut done = false;
    for line in spec.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if !done && line.starts_with("Release:") {
            out.push_str(&format!("Release:        {release}\n"));
            done = true;
        } else if line.starts_with("* ") && body.ends_with(&format!("-{old}")) {
            out.push_str(&body[..body.len() - old.len()]);
            out.push_str(release);
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The signing key's fingerprint, read from the armored public key the tree
/// carries, and whether this keyring holds its secret half.
fn signing_key(gpg: &Path, key_file: &Path) -> anyhow::Result<String> {
    let o = cmd::run_checked(
        Command::new(gpg)
            .args(["--batch", "--with-colons", "--show-keys"])
            .arg(key_file),
    )?;
    let fpr = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|rest| rest.split(':').find(|f| !f.is_empty()))
        .map(str::to_string)
        .with_context(|| format!("{}: gpg shows no key in it", key_file.display()))?;
    anyhow::ensure!(
        fpr.len() >= 40 && fpr.chars().all(|c| c.is_ascii_hexdigit()),
        "{}: gpg shows the fingerprint {fpr:?}",
        key_file.display()
    );
    let secret = cmd::run(
        Command::new(gpg)
            .args(["--batch", "--with-colons", "--list-secret-keys"])
            .arg(&fpr),
    )?;
    if !secret.success() {
        return Err(UserError(format!(
            "the secret key of {fpr} ([rpm] gpg_key) is not in this keyring (GNUPGHOME, else ~/.gnupg): \
             run rpm --repo where the key is, or import it there (gpg --import)"
        ))
        .into());
    }
    Ok(fpr)
}

fn sign_package(gpg: &Path, fpr: &str, file: &Path) -> anyhow::Result<()> {
    let rpmsign = cmd::find("rpmsign").ok_or_else(|| {
        ToolMissing("install rpmsign: apt-get install rpm, or dnf install rpm-sign".into())
    })?;
    // rpm's macros name /usr/bin/gpg2, which Debian does not have; the
    // fingerprint picks the key, its signing subkey if it has one.
    cmd::run_checked(
        Command::new(rpmsign)
            .arg("--addsign")
            .arg("--define")
            .arg(format!("_gpg_name {fpr}"))
            .arg("--define")
            .arg(format!("__gpg {}", gpg.display()))
            .arg(file),
    )?;
    Ok(())
}

/// What a client will check, checked with the public key alone (the one the
/// package ships): the package's signature as rpm checks it, and
/// repomd.xml's as dnf does. A signing subkey newer than the exported key,
/// or an expired one, fails here rather than on every machine.
fn verify_signatures(
    t: &Tools,
    gpg: &Path,
    key: &Path,
    package: &Path,
    staging: &Path,
    work: &Path,
) -> anyhow::Result<()> {
    let db = work.join("keycheck-rpmdb");
    std::fs::create_dir_all(&db)?;
    let rpmkeys = t.rpm.with_file_name("rpmkeys");
    let rpmkeys = if rpmkeys.is_file() {
        rpmkeys
    } else {
        PathBuf::from("rpmkeys")
    };
    let db_arg = format!("--dbpath={}", db.display());
    cmd::run_checked(Command::new(&rpmkeys).arg(&db_arg).arg("--import").arg(key))?;
    let checked = cmd::run(
        Command::new(&rpmkeys)
            .arg(&db_arg)
            .args(["--define", "_pkgverify_level signature", "--checksig"])
            .arg(package),
    )?;
    let keyring = work.join("keycheck.kbx");
    let ring = |c: &mut Command| {
        c.args(["--batch", "--no-default-keyring", "--keyring"])
            .arg(&keyring);
    };
    let mut import = Command::new(gpg);
    ring(&mut import);
    cmd::run_checked(import.arg("--import").arg(key))?;
    let mut verify = Command::new(gpg);
    ring(&mut verify);
    let repomd = cmd::run(
        verify
            .arg("--verify")
            .arg(staging.join("repodata/repomd.xml.asc"))
            .arg(staging.join("repodata/repomd.xml")),
    )?;
    if !checked.success() || !repomd.success() {
        return Err(UserError(format!(
            "the signatures do not check against the profile's gpg_key (its public key, as clients get it): {}{}; export the key again (gpg --armor --export FINGERPRINT) so it holds the signing subkey, and check that it has not expired",
            checked.text().trim(),
            if repomd.success() { String::new() } else { format!("; repomd.xml: {}", repomd.text().trim()) }
        ))
        .into());
    }
    Ok(())
}

/// Build the tree's package into the repository at `repo`, and write it
/// there (nothing is written when the repository already holds it).
pub fn publish(
    rpmbuild_bin: &Path,
    tree: &Path,
    repo: &Path,
    bump: bool,
) -> anyhow::Result<Published> {
    let (artifacts, published) = prepare(rpmbuild_bin, tree, repo, bump)?;
    if !published.unchanged {
        crate::output::write_tree(repo, &artifacts, false)?;
    }
    Ok(published)
}

/// The repository at `repo` with the tree's package in it, as files
/// relative to its top (its own MANIFEST.sha256 left out: the writer makes
/// it), and what changed. Nothing is written.
pub fn prepare(
    rpmbuild_bin: &Path,
    tree: &Path,
    repo: &Path,
    bump: bool,
) -> anyhow::Result<(Vec<Artifact>, Published)> {
    let t = tools()?;
    let spec_path = tree.join("rpm/rtaudio-tuning.spec");
    let spec = std::fs::read_to_string(&spec_path)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let (number, rest) = spec_release(&spec)
        .with_context(|| format!("{}: no Release: line", spec_path.display()))?;
    let key_file = tree.join(TREE_KEY_FILE);
    let signer = if key_file.is_file() {
        let gpg = cmd::find("gpg").ok_or_else(|| {
            ToolMissing("install gpg (the profile names a signing key): apt-get install gpg".into())
        })?;
        Some((signing_key(&gpg, &key_file)?, gpg))
    } else {
        None
    };
    let have = existing(&t, repo)?;
    let repo_file = tree.join(TREE_REPO_FILE);
    let has_repo_file = repo_file.is_file();

    let work = tempfile::Builder::new()
        .prefix("rtaudio-tuning-repo-")
        .tempdir()?;
    let build = |release: u32| -> anyhow::Result<(PathBuf, Package)> {
        let src = work.path().join(format!("rpm-{release}"));
        std::fs::create_dir_all(&src)?;
        for e in std::fs::read_dir(tree.join("rpm"))? {
            let e = e?;
            if e.file_type()?.is_file() {
                std::fs::copy(e.path(), src.join(e.file_name()))?;
            }
        }
        std::fs::write(
            src.join("rtaudio-tuning.spec"),
            with_release(&spec, &format!("{release}{rest}")),
        )?;
        let built = rpmbuild::build(
            rpmbuild_bin,
            &src,
            &work.path().join(format!("top-{release}")),
        )?;
        let (_, p) = query(&t.rpm, &built)?;
        Ok((built, p))
    };
    let (mut built, mut new) = build(number)?;
    let mut bumped = false;
    // The release ends in the profile's name: a repository serves one
    // profile, or machines would "upgrade" to another profile's package.
    let profile_of = |release: &str| release_parts(release).map(|(_, r)| r);
    if let Some(other) = have
        .iter()
        .find(|p| profile_of(&p.release) != profile_of(&new.release))
    {
        return Err(UserError(format!(
            "{}/{PACKAGES} holds {}, the package of another profile (release {}, this one's is {}): give each profile a repository of its own",
            repo.display(),
            other.file,
            other.release,
            new.release
        ))
        .into());
    }

    // The release must be above every one in the repository, unless the
    // same package is already there.
    let same = have.iter().find(|p| p.evr() == new.evr());
    if let Some(p) = same.filter(|p| p.content == new.content) {
        let mut artifacts = Vec::new();
        collect(repo, repo, &mut artifacts)?;
        artifacts.retain(|a| a.path != crate::output::MANIFEST);
        return Ok((
            artifacts,
            Published {
                repo: repo.display().to_string(),
                package: p.file.clone(),
                unchanged: true,
                release: new.release.clone(),
                bumped: false,
                kept: have.iter().map(|p| p.file.clone()).collect(),
                pruned: Vec::new(),
                signed_by: signer.map(|(f, _)| f),
                repo_file: has_repo_file.then(|| REPO_FILE.to_string()),
            },
        ));
    }
    let newest = have.first();
    let behind = match newest {
        Some(n) => vercmp(&t.rpm, &n.evr(), &new.evr())?.is_ge(),
        None => false,
    };
    if behind {
        let n = newest.expect("a newest package");
        if !bump {
            if n.version != new.version && vercmp(&t.rpm, &n.version, &new.version)?.is_gt() {
                return Err(UserError(format!(
                    "{} holds {}, built by a newer rtaudio-tuning ({}) than this one ({}): no release of this version goes above it; publish with rtaudio-tuning {} or newer",
                    repo.display(),
                    n.file,
                    n.version,
                    new.version,
                    n.version
                ))
                .into());
            }
            let why = if n.evr() == new.evr() {
                format!(
                    "{} already holds {} with other content: dnf upgrade would not take it (the same version and release count as the same package)",
                    repo.display(),
                    n.file
                )
            } else {
                format!(
                    "{} holds {}, newer than this build's {}: machines would keep the newer one",
                    repo.display(),
                    n.file,
                    new.evr()
                )
            };
            let next = release_parts(&n.release).map_or(number + 1, |(r, _)| r + 1);
            return Err(UserError(format!(
                "{why}; raise [rpm] release in the profile (release = {next}) and render again, or pass --bump-release"
            ))
            .into());
        }
        // Above the highest release of this version in the repository.
        let top = have
            .iter()
            .filter(|p| p.version == new.version)
            .filter_map(|p| release_parts(&p.release).map(|(r, _)| r))
            .max()
            .unwrap_or(number);
        (built, new) = build(top.max(number) + 1)?;
        bumped = true;
        anyhow::ensure!(
            vercmp(&t.rpm, &n.evr(), &new.evr())?.is_lt(),
            "raising the release to {} does not put it above {} (another version of the tool built that one): raise [rpm] release by hand",
            new.release,
            n.file
        );
    }

    // The new release and the one before it; older ones go.
    let staging = work.path().join("repo");
    let packages = staging.join(PACKAGES);
    std::fs::create_dir_all(&packages)?;
    let file = new.file.clone();
    std::fs::copy(&built, packages.join(&file))?;
    if let Some((fpr, gpg)) = &signer {
        sign_package(gpg, fpr, &packages.join(&file))?;
    }
    let kept: Vec<Package> = have.iter().take(KEEP - 1).cloned().collect();
    let pruned: Vec<String> = have.iter().skip(KEEP - 1).map(|p| p.file.clone()).collect();
    for p in &kept {
        std::fs::copy(repo.join(PACKAGES).join(&p.file), packages.join(&p.file))?;
    }
    cmd::run_checked(
        Command::new(&t.createrepo)
            .args(["--quiet", "--no-database"])
            .arg(&staging),
    )?;
    if let Some((fpr, gpg)) = &signer {
        // repo_gpgcheck: dnf checks repomd.xml against this signature.
        cmd::run_checked(
            Command::new(gpg)
                .args([
                    "--batch",
                    "--yes",
                    "--armor",
                    "--detach-sign",
                    "--local-user",
                ])
                .arg(fpr)
                .arg("--output")
                .arg(staging.join("repodata/repomd.xml.asc"))
                .arg(staging.join("repodata/repomd.xml")),
        )?;
        std::fs::copy(&key_file, staging.join(KEY_FILE))?;
        verify_signatures(
            &t,
            gpg,
            &key_file,
            &packages.join(&file),
            &staging,
            work.path(),
        )?;
    }
    if has_repo_file {
        std::fs::copy(&repo_file, staging.join(REPO_FILE))?;
    }
    let mut artifacts = Vec::new();
    collect(&staging, &staging, &mut artifacts)?;
    let mut kept_files: Vec<String> = vec![file.clone()];
    kept_files.extend(kept.iter().map(|p| p.file.clone()));
    Ok((
        artifacts,
        Published {
            repo: repo.display().to_string(),
            package: file,
            unchanged: false,
            release: new.release,
            bumped,
            kept: kept_files,
            pruned,
            signed_by: signer.map(|(f, _)| f),
            repo_file: has_repo_file.then(|| REPO_FILE.to_string()),
        },
    ))
}

/// Every file under `dir`, as artifacts relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<Artifact>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            out.push(Artifact {
                path: rel,
                mode: 0o644,
                content: Content::Bytes(std::fs::read(&path)?),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_release_is_written_where_the_renderer_writes_it() {
        let spec = "Name: x\nRelease:        2.studio\n%changelog\n* Mon Jan 05 2026 rtaudio-tuning - 0.1.0-2.studio\n- x\n";
        assert_eq!(
            with_release(spec, "3.studio"),
            "Name: x\nRelease:        3.studio\n%changelog\n* Mon Jan 05 2026 rtaudio-tuning - 0.1.0-3.studio\n- x\n"
        );
    }

    #[test]
    fn the_release_number_and_its_rest() {
        assert_eq!(
            spec_release("Name: x\nRelease:        2.studio\n"),
            Some((2, ".studio".into()))
        );
        assert_eq!(spec_release("Release: 14\n"), Some((14, String::new())));
        assert_eq!(spec_release("Release: x1\n"), None);
    }
}
