//! `schema`: the JSON Schema of every command's `--json` document, generated
//! from the types that print them (README, "JSON documents"), and of the
//! profile, for editors.

use std::path::Path;

use crate::{UserError, console, exit, noteln, outln, text};

/// Each document's name (`NAME.schema.json`) and schema.
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    use console::document_schema as doc;
    vec![
        (
            "render",
            doc::<super::render::RenderJson<'static>>("render", 1),
        ),
        ("fleet", doc::<super::fleet::FleetJson<'static>>("fleet", 1)),
        (
            "validate",
            doc::<super::validate::ValidateJson<'static>>("validate", 1),
        ),
        (
            "validate-list",
            doc::<super::validate::ValidatorList>("validate", 1),
        ),
        ("rpm", doc::<super::rpm::RpmJson>("rpm", 1)),
        ("check", doc::<super::check::CheckJson<'static>>("check", 1)),
        ("check-list", doc::<super::check::CheckList>("check", 1)),
        (
            "latency",
            doc::<crate::latency::Document<'static>>("latency", 1),
        ),
        ("vm-test", crate::vm::verdict_schema()),
        (
            "selinux-from-audit",
            crate::selinux::from_audit::summary_schema(),
        ),
        ("profile", crate::profile::input::schema()),
    ]
}

/// One schema on standard output; without a name, the names; with `-o`,
/// every schema into a new folder.
pub(super) fn schema_cmd(name: Option<&str>, output: Option<&Path>) -> anyhow::Result<i32> {
    let all = all();
    if let Some(dir) = output {
        let files: Vec<(String, String)> = all
            .iter()
            .map(|(n, s)| Ok((format!("{n}.schema.json"), pretty(s)?)))
            .collect::<anyhow::Result<_>>()?;
        super::docs::write_new_folder(dir, "the schemas", |tmp| {
            for (name, text) in &files {
                std::fs::write(tmp.join(name), text)?;
            }
            Ok(())
        })?;
        noteln!(
            "wrote {} to {}",
            text::count(files.len(), "schema"),
            text::one_line(&dir.display().to_string())
        )?;
        return Ok(exit::OK);
    }
    let Some(name) = name else {
        for (n, _) in &all {
            outln!("{n}")?;
        }
        return Ok(exit::OK);
    };
    match all.iter().find(|(n, _)| *n == name) {
        Some((_, s)) => outln!("{}", pretty(s)?)?,
        None => {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            return Err(UserError(format!(
                "no document named {}{}; the documents are: {}",
                text::one_line(&format!("{name:?}")),
                text::did_you_mean(name, names.iter().copied()),
                names.join(", ")
            ))
            .into());
        }
    }
    Ok(exit::OK)
}

fn pretty(s: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(s)? + "\n")
}
